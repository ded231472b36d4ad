#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
  // `signing_key` must be able to sign; `verification_keys` holds it (and older keys after
  // rotation).
  TokenService(jose::Key signing_key, jose::KeySet verification_keys, TokenSettings settings,
               const core::Clock& clock);

  // A fresh pair for `user_id` in session `session_id`; `refresh_jti` is the refresh token's id.
  // Both tokens carry the grant's `amr` and `auth_time` (OIDC Core §2, RFC 9470); the refresh
  // token also its narrowed `scope`. The access token says whether the user's email is verified
  // (`email_verified`, as OIDC Core §5.1 names it).
  [[nodiscard]] core::Result<TokenPair> issue(
      std::int64_t user_id, const std::vector<std::string>& scopes, const std::string& session_id,
      const std::string& refresh_jti, const Grant& grant = {}, bool email_verified = false) const;

  [[nodiscard]] tl::expected<jose::Claims, jose::JwtError> verifyAccess(
      std::string_view token) const;
  [[nodiscard]] tl::expected<jose::Claims, jose::JwtError> verifyRefresh(
      std::string_view token) const;

  const jose::KeySet& keys() const { return verifier_.keys(); }
  const TokenSettings& settings() const { return settings_; }

 private:
  jose::Key signing_key_;
  TokenSettings settings_;
  const core::Clock* clock_;
  jose::JwtVerifier verifier_;
};

// A new random token id (128 bits, base64url).
[[nodiscard]] core::Result<std::string> newTokenId();

}  // namespace gatehouse::auth
