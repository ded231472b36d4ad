#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "jose/jwk.hpp"
#include "jose/jws.hpp"
#include "jose/jwt_error.hpp"

namespace gatehouse::jose {

// What a token must satisfy beyond its signature (RFC 7519 §4.1, RFC 8725 §3.8–3.9).
struct ClaimsPolicy {
  std::optional<std::string> issuer;    // `iss` must equal it when set
  std::optional<std::string> audience;  // `aud` must contain it when set
  std::optional<std::string> type;      // the `type` claim ("access", "refresh") when set
  std::chrono::seconds leeway{0};       // allowed clock skew for exp, nbf and iat
};

// The registered and Gatehouse claims of a verified token; `raw` keeps the whole payload.
struct Claims {
  std::string sub;
  std::int64_t exp = 0;
  std::optional<std::int64_t> iat;
  std::optional<std::int64_t> nbf;
  std::string jti;
  std::string iss;
  std::string type;
  std::vector<std::string> scopes;
  boost::json::object raw;
  // The kid of the key that verified the token (JwtVerifier); empty from checkClaims alone.
  std::string kid;
};

// RFC 7519 §2 NumericDate: a JSON number of seconds in [0, 253402300799] (years 1970–9999).
// Strings, booleans, NaN and out-of-range values give BadClaim; fractions are truncated.
[[nodiscard]] tl::expected<std::int64_t, JwtError> parseNumericDate(const boost::json::value& v);

// Checks the claims of an already signature-verified payload at time `now` (Unix seconds).
[[nodiscard]] tl::expected<Claims, JwtError> checkClaims(std::string_view payload,
                                                         const ClaimsPolicy& policy,
                                                         std::int64_t now);

// The time checks of checkClaims() alone, on claims it accepted earlier (a cache of verified
// tokens asks them again at every use): Expired, NotYetValid, IssuedInFuture at `now`.
[[nodiscard]] tl::expected<void, JwtError> checkTimes(const Claims& claims,
                                                      const ClaimsPolicy& policy, std::int64_t now);

// Verifies JWTs: signature against a pinned key set, then claims at the injected clock's time.
// Thread-safe; the clock must outlive the verifier.
class JwtVerifier {
 public:
  JwtVerifier(KeySet keys, ClaimsPolicy policy, const core::Clock& clock, JwsLimits limits = {})
      : keys_(std::move(keys)), policy_(std::move(policy)), clock_(&clock), limits_(limits) {}

  [[nodiscard]] tl::expected<Claims, JwtError> verify(std::string_view token) const;
  // Same checks with a different expected `type` claim.
  [[nodiscard]] tl::expected<Claims, JwtError> verify(std::string_view token,
                                                      std::string_view type) const;

  const KeySet& keys() const { return keys_; }
  const ClaimsPolicy& policy() const { return policy_; }
  const core::Clock& clock() const { return *clock_; }

 private:
  KeySet keys_;
  ClaimsPolicy policy_;
  const core::Clock* clock_;
  JwsLimits limits_;
};

// Serialises `claims` and signs them with `key`; errors as signJws.
[[nodiscard]] core::Result<std::string> signJwt(const Key& key, const boost::json::object& claims);

}  // namespace gatehouse::jose
