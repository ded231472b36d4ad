#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/verified_tokens.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "jose/jwt.hpp"

namespace gatehouse::auth {

struct TokenPair {
  std::string access_token;
  std::string refresh_token;
  std::int64_t expires_in = 0;  // access-token lifetime in seconds
  std::string access_jti;
  std::int64_t access_expires_at = 0;
};

// What a session was granted when the user proved who they are; it rides in the refresh token, so
// a refresh never widens the scope nor freshens the proof.
struct Grant {
  std::optional<std::vector<std::string>> scope;  // narrowed at login (RFC 6749 §6)
  // RFC 8176 methods: "pwd", "otp", "rc", "ext", and "hwk" / "swk" (a passkey)
  std::vector<std::string> amr;
  std::int64_t auth_time = 0;  // when (Unix seconds); 0 = unknown
};

struct TokenSettings {
  std::chrono::seconds access_ttl{30 * 60};
  std::chrono::seconds refresh_ttl{7 * 24 * 3600};
  std::string issuer = "gatehouse";
  std::optional<std::string> audience;
  std::size_t max_token_bytes = jose::kDefaultMaxTokenBytes;
};

// Issues and verifies Gatehouse's access and refresh tokens (API.md, Objects). Access claims:
// sub, exp, iat, type=access, scopes, jti, iss, sid (+ aud when configured); refresh claims: sub,
// exp, iat, type=refresh, jti, iss, sid. Thread-safe.
class TokenService {
 public:
  // Each retired key's kid and the time it stopped signing. Such a key verifies a token only when
  // its `iat` is at most that time (a minute of leeway: a node switches at its next read of the
  // key ring) and it lives no longer than this server issues tokens of its type: someone who got
  // hold of a retired key cannot make tokens that outlive its retirement by more than a lifetime.
  using RetiredKeys = std::map<std::string, std::int64_t, std::less<>>;
  static constexpr std::int64_t kRetiredLeewaySeconds = 60;

  // `signing_key` must be able to sign; `verification_keys` holds it (and older keys after
  // rotation).
  TokenService(jose::Key signing_key, jose::KeySet verification_keys, TokenSettings settings,
               const core::Clock& clock, RetiredKeys retired = {});

  // A fresh pair for `user_id` in session `session_id`; `refresh_jti` is the refresh token's id.
  // Both tokens carry the grant's `amr` and `auth_time` (OIDC Core §2, RFC 9470); the refresh
  // token also its narrowed `scope`. The access token says whether the user's email is verified
  // (`email_verified`, as OIDC Core §5.1 names it).
  [[nodiscard]] core::Result<TokenPair> issue(
      std::int64_t user_id, const std::vector<std::string>& scopes, const std::string& session_id,
      const std::string& refresh_jti, const Grant& grant = {}, bool email_verified = false) const;

  // An access token's claims, shared with this node's cache of the tokens it verified
  // (VerifiedTokens): a token presented again costs no signature check, no parse and no copy.
  [[nodiscard]] tl::expected<std::shared_ptr<const jose::Claims>, jose::JwtError>
  verifyAccessShared(std::string_view token) const;
  // The same claims, as a copy of their own.
  [[nodiscard]] tl::expected<jose::Claims, jose::JwtError> verifyAccess(
      std::string_view token) const;
  [[nodiscard]] tl::expected<jose::Claims, jose::JwtError> verifyRefresh(
      std::string_view token) const;

  // Signs with `signing_key` and verifies with `verification_keys` from now on (a rotation every
  // node follows without a restart). Requests in flight finish with the keys they started with.
  void setKeys(jose::Key signing_key, jose::KeySet verification_keys, RetiredKeys retired = {});

  // The keys verifying now; the reference stays valid for the service's lifetime.
  const jose::KeySet& keys() const { return current().verifier.keys(); }
  const jose::Key& signingKey() const { return current().signing; }
  const TokenSettings& settings() const { return settings_; }
  // The access tokens remembered under the current keys (its size and hits, for tests).
  const VerifiedTokens& verifiedTokens() const { return current().verified; }

 private:
  struct Keys {
    jose::Key signing;
    jose::JwtVerifier verifier;
    VerifiedTokens verified;  // access tokens verified under these keys
    RetiredKeys retired;
  };
  // Logs, once, that a token lives longer than this node remembers an ended session's tokens.
  void warnLongerLifetime(std::int64_t seconds) const;
  // JwtError::BadClaim when `claims` were verified by a retired key but issued after it stopped
  // signing, live longer than `lifetime`, or lack the `jti` and `sid` every token we sign has.
  static std::optional<jose::JwtError> retiredKeyRefusal(const Keys& keys,
                                                         const jose::Claims& claims,
                                                         std::chrono::seconds lifetime);
  const Keys& current() const { return *current_.load(std::memory_order_acquire); }

  TokenSettings settings_;
  const core::Clock* clock_;
  // Every set of keys ever in use is kept (one per rotation, a few hundred bytes), so a check
  // reads the current one with one plain load and never counts references on the hot path.
  std::mutex history_mutex_;
  std::vector<std::unique_ptr<const Keys>> history_;
  std::atomic<const Keys*> current_;
};

// A new random token id (128 bits, base64url).
[[nodiscard]] core::Result<std::string> newTokenId();

}  // namespace gatehouse::auth
