#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "jose/jwk.hpp"
#include "jose/jwt.hpp"

namespace gatehouse::op {

struct OpTokenSettings {
  std::string issuer;    // GATEHOUSE_PUBLIC_URL exactly
  std::string audience;  // the access tokens' aud (RFC 9068 §2.2)
  std::chrono::seconds access_ttl{30 * 60};
  std::chrono::seconds refresh_ttl{7 * 24 * 3600};
  std::chrono::seconds id_token_ttl{60 * 60};
  std::size_t max_token_bytes = jose::kDefaultMaxTokenBytes;
};

// Who and what a token speaks for.
struct TokenSubject {
  std::string subject;    // the user id, or the client id for client_credentials
  std::string client_id;  // the client it was issued to
  std::string scope;      // granted, space-separated
  std::string sid;        // the grant (a session) it belongs to; empty for client_credentials
  std::int64_t auth_time = 0;
  std::vector<std::string> amr;
};

struct IssuedToken {
  std::string token;
  std::string jti;
  std::int64_t expires_at = 0;
};

// The provider's tokens, all signed with its own asymmetric key (RS256, whatever algorithm the
// API's tokens use): RFC 9068 access tokens (header typ at+jwt), ID tokens (OIDC Core §2), and
// refresh tokens (a `type: refresh` JWT only the provider reads, its audience the token endpoint,
// so that a resource server checking `aud` but not `typ` refuses it as an access token). Each
// verifier accepts only its own kind. Thread-safe.
class OpTokens {
 public:
  // `keys` verifies (the signing key and keys retired from signing); `signing` signs.
  OpTokens(jose::Key signing, jose::KeySet keys, OpTokenSettings settings,
           const core::Clock& clock);

  [[nodiscard]] core::Result<IssuedToken> accessToken(const TokenSubject& s) const;
  [[nodiscard]] core::Result<IssuedToken> refreshToken(const TokenSubject& s,
                                                       const std::string& jti) const;
  // `claims` (nonce, the scope's profile claims) are added to the registered ones; `access_token`
  // gives at_hash (OIDC Core §3.1.3.6) when not empty.
  [[nodiscard]] core::Result<std::string> idToken(const TokenSubject& s,
                                                  std::string_view access_token,
                                                  boost::json::object claims) const;

  // An access token of ours: typ at+jwt, signature, iss, aud, expiry; `scopes` filled from
  // `scope`. The JwtError otherwise.
  [[nodiscard]] tl::expected<jose::Claims, jose::JwtError> verifyAccess(
      std::string_view token) const;
  // A refresh token of ours; also one issued before its audience was the token endpoint (the
  // issuer then), for as long as it lives.
  [[nodiscard]] tl::expected<jose::Claims, jose::JwtError> verifyRefresh(
      std::string_view token) const;
  // The refresh tokens' `aud`: `<issuer>/oauth2/token`.
  std::string refreshAudience() const;
  // An ID token of ours as a hint (OIDC Core §3.1.2.1, RP-Initiated Logout §2): signature and
  // issuer; an expired one still names who it was for. The payload.
  [[nodiscard]] tl::expected<boost::json::object, jose::JwtError> verifyIdTokenHint(
      std::string_view token) const;

  const jose::KeySet& keys() const { return keys_; }
  const OpTokenSettings& settings() const { return settings_; }

 private:
  jose::Key signing_;
  jose::KeySet keys_;
  OpTokenSettings settings_;
  const core::Clock& clock_;
};

// The authentication context class for a token's methods: "2" with a second factor, else "1".
std::string acrOf(const std::vector<std::string>& amr);
// OIDC Core §3.1.3.6: base64url of the left half of SHA-256 over the token (RS256).
std::string atHash(std::string_view access_token);

}  // namespace gatehouse::op
