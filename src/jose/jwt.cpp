#include "jose/jwt.hpp"

#include <cmath>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

#include "core/strict_json.hpp"

namespace gatehouse::jose {
namespace {

namespace json = boost::json;

constexpr std::int64_t kMaxNumericDate = 253402300799;  // 9999-12-31T23:59:59Z

tl::expected<std::optional<std::int64_t>, JwtError> optionalDate(const json::object& o,
                                                                 std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr) return std::optional<std::int64_t>{};
  auto date = parseNumericDate(*v);
  if (!date) return tl::unexpected(date.error());
  return std::optional<std::int64_t>(*date);
}

tl::expected<std::string, JwtError> optionalString(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr) return std::string{};
  if (!v->is_string()) return tl::unexpected(JwtError::BadClaim);
  return std::string(v->get_string());
}

bool audienceContains(const json::value& aud, std::string_view expected) {
  if (aud.is_string()) return aud.get_string() == expected;
  if (!aud.is_array()) return false;
  for (const auto& entry : aud.get_array()) {
    if (entry.is_string() && entry.get_string() == expected) return true;
  }
  return false;
}

}  // namespace

tl::expected<std::int64_t, JwtError> parseNumericDate(const json::value& v) {
  if (v.is_int64()) {
    const std::int64_t n = v.get_int64();
    if (n < 0 || n > kMaxNumericDate) return tl::unexpected(JwtError::BadClaim);
    return n;
  }
  if (v.is_uint64()) {
    const std::uint64_t n = v.get_uint64();
    if (n > static_cast<std::uint64_t>(kMaxNumericDate)) return tl::unexpected(JwtError::BadClaim);
    return static_cast<std::int64_t>(n);
  }
  if (v.is_double()) {
    const double d = v.get_double();
    // The range test comes before the cast, so the cast is always defined.
    if (!std::isfinite(d) || d < 0.0 || d > static_cast<double>(kMaxNumericDate)) {
      return tl::unexpected(JwtError::BadClaim);
    }
    return static_cast<std::int64_t>(d);
  }
  return tl::unexpected(JwtError::BadClaim);
}

tl::expected<void, JwtError> checkTimes(const Claims& claims, const ClaimsPolicy& policy,
                                        std::int64_t now) {
  const std::int64_t leeway = policy.leeway.count();
  if (now >= claims.exp + leeway) return tl::unexpected(JwtError::Expired);
  if (claims.nbf && *claims.nbf > now + leeway) return tl::unexpected(JwtError::NotYetValid);
  if (claims.iat && *claims.iat > now + leeway) return tl::unexpected(JwtError::IssuedInFuture);
  return {};
}

tl::expected<Claims, JwtError> checkClaims(std::string_view payload, const ClaimsPolicy& policy,
                                           std::int64_t now) {
  auto parsed = core::parseStrictJson(
      payload, {.max_bytes = payload.size(), .max_depth = 16},
      json::make_shared_resource<json::monotonic_resource>(payload.size() * 2 + 256));
  if (!parsed) return tl::unexpected(JwtError::BadJson);
  if (!parsed->is_object()) return tl::unexpected(JwtError::Malformed);
  // Move-construct so the claims keep the parse arena instead of copying out of it.
  Claims claims{.raw = std::move(parsed->get_object())};
  const json::object& o = claims.raw;
  const std::int64_t leeway = policy.leeway.count();

  const auto* exp = o.if_contains("exp");
  if (exp == nullptr) return tl::unexpected(JwtError::MissingClaim);
  auto exp_value = parseNumericDate(*exp);
  if (!exp_value) return tl::unexpected(exp_value.error());
  claims.exp = *exp_value;
  if (now >= claims.exp + leeway) return tl::unexpected(JwtError::Expired);

  auto nbf = optionalDate(o, "nbf");
  if (!nbf) return tl::unexpected(nbf.error());
  claims.nbf = *nbf;
  if (claims.nbf && *claims.nbf > now + leeway) return tl::unexpected(JwtError::NotYetValid);

  auto iat = optionalDate(o, "iat");
  if (!iat) return tl::unexpected(iat.error());
  claims.iat = *iat;
  if (claims.iat && *claims.iat > now + leeway) return tl::unexpected(JwtError::IssuedInFuture);

  auto sub = optionalString(o, "sub");
  auto jti = optionalString(o, "jti");
  auto iss = optionalString(o, "iss");
  auto type = optionalString(o, "type");
  if (!sub || !jti || !iss || !type) return tl::unexpected(JwtError::BadClaim);
  claims.sub = std::move(*sub);
  claims.jti = std::move(*jti);
  claims.iss = std::move(*iss);
  claims.type = std::move(*type);

  if (policy.issuer && (!o.contains("iss") || claims.iss != *policy.issuer)) {
    return tl::unexpected(JwtError::BadIssuer);
  }
  if (policy.audience) {
    const auto* aud = o.if_contains("aud");
    if (aud == nullptr || !audienceContains(*aud, *policy.audience)) {
      return tl::unexpected(JwtError::BadAudience);
    }
  }
  if (policy.type && claims.type != *policy.type) return tl::unexpected(JwtError::BadType);

  if (const auto* scopes = o.if_contains("scopes")) {
    if (!scopes->is_array()) return tl::unexpected(JwtError::BadClaim);
    for (const auto& s : scopes->get_array()) {
      if (!s.is_string()) return tl::unexpected(JwtError::BadClaim);
      claims.scopes.emplace_back(s.get_string());
    }
  }
  return claims;
}

tl::expected<Claims, JwtError> JwtVerifier::verify(std::string_view token) const {
  auto jws = verifyJws(token, keys_, limits_);
  if (!jws) return tl::unexpected(jws.error());
  auto claims = checkClaims(jws->payload, policy_, clock_->unixSeconds());
  if (claims) claims->kid = jws->key->kid();
  return claims;
}

tl::expected<Claims, JwtError> JwtVerifier::verify(std::string_view token,
                                                   std::string_view type) const {
  auto jws = verifyJws(token, keys_, limits_);
  if (!jws) return tl::unexpected(jws.error());
  ClaimsPolicy policy = policy_;
  policy.type = std::string(type);
  auto claims = checkClaims(jws->payload, policy, clock_->unixSeconds());
  if (claims) claims->kid = jws->key->kid();
  return claims;
}

core::Result<std::string> signJwt(const Key& key, const json::object& claims) {
  return signJws(key, json::serialize(claims));
}

}  // namespace gatehouse::jose
