#include "auth/legacy_tokens.hpp"

#include "core/base64url.hpp"
#include "crypto/digest.hpp"

namespace gatehouse::auth {

core::Result<LegacyTokens> LegacyTokens::create(std::string secret, std::int64_t until,
                                                const core::Clock& clock,
                                                std::size_t max_token_bytes) {
  auto key = jose::Key::hmac(jose::Algorithm::Hs256, std::move(secret));
  if (!key)
    return core::makeError(core::Errc::InvalidArgument,
                           "LEGACY_SECRET_KEY: " + key.error().message);
  auto keys = jose::KeySet::create({*key});
  if (!keys) return tl::unexpected(keys.error());
  // No issuer or audience: the seed sets neither.
  jose::JwtVerifier verifier(std::move(*keys), jose::ClaimsPolicy{}, clock,
                             jose::JwsLimits{.max_token_bytes = max_token_bytes});
  return LegacyTokens(std::move(verifier), until, clock);
}

tl::expected<jose::Claims, jose::JwtError> LegacyTokens::verify(std::string_view token,
                                                                std::string_view type) const {
  if (clock_->unixSeconds() >= until_) return tl::unexpected(jose::JwtError::Expired);
  auto claims = verifier_.verify(token, type);
  if (!claims) return claims;
  // Ours carry a jti; a seed token never does. One of ours signed with a leaked legacy key must
  // not pass as a seed token of another user.
  if (!claims->jti.empty() || claims->raw.contains("sid") || claims->sub.empty() ||
      claims->sub.size() > 64)
    return tl::unexpected(jose::JwtError::BadClaim);
  // Only what the seed puts in a token: no auth_time, amr or scope of the token's choosing.
  boost::json::object raw;
  for (const char* name : {"exp", "iat", "type"})
    if (const auto* v = claims->raw.if_contains(name)) raw[name] = *v;
  raw[kSubjectClaim] = claims->sub;
  claims->raw = std::move(raw);
  claims->sub.clear();
  claims->jti = "legacy-" + core::hexEncode(crypto::sha256(token)).substr(0, 32);
  claims->scopes.clear();
  return claims;
}

}  // namespace gatehouse::auth
