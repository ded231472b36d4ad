#include "op/op_tokens.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "auth/claims.hpp"
#include "auth/tokens.hpp"
#include "core/ascii.hpp"
#include "core/base64url.hpp"
#include "crypto/digest.hpp"

namespace gatehouse::op {
namespace {

namespace json = boost::json;

json::array amrArray(const std::vector<std::string>& amr) {
  json::array out;
  for (const auto& m : amr) out.emplace_back(m);
  return out;
}

bool isAccessTyp(const std::optional<std::string>& typ) {
  // RFC 9068 §4: "at+jwt", or the full media type.
  if (!typ) return false;
  return core::equalsIgnoringCase(*typ, "at+jwt") ||
         core::equalsIgnoringCase(*typ, "application/at+jwt");
}

}  // namespace

std::string acrOf(const std::vector<std::string>& amr) {
  return auth::namesSecondFactor(amr) ? "2" : "1";
}

std::string atHash(std::string_view access_token) {
  const std::string digest = crypto::sha256(access_token);
  return core::base64urlEncode(std::string_view(digest).substr(0, digest.size() / 2));
}

OpTokens::OpTokens(jose::Key signing, jose::KeySet keys, OpTokenSettings settings,
                   const core::Clock& clock)
    : signing_(std::move(signing)),
      keys_(std::move(keys)),
      settings_(std::move(settings)),
      clock_(clock) {}

core::Result<IssuedToken> OpTokens::accessToken(const TokenSubject& s) const {
  auto jti = auth::newTokenId();
  if (!jti) return tl::unexpected(jti.error());
  const std::int64_t now = clock_.unixSeconds();
  const std::int64_t exp = now + settings_.access_ttl.count();
  // RFC 9068 §2.2.
  json::object claims{{"iss", settings_.issuer},
                      {"sub", s.subject},
                      {"aud", settings_.audience},
                      {"exp", exp},
                      {"iat", now},
                      {"jti", *jti},
                      {"client_id", s.client_id},
                      {"scope", s.scope}};
  if (!s.sid.empty()) claims["sid"] = s.sid;
  if (s.auth_time > 0) {
    claims["auth_time"] = s.auth_time;
    claims["amr"] = amrArray(s.amr);
    claims["acr"] = acrOf(s.amr);
  }
  auto token = jose::signJws(signing_, json::serialize(claims), "at+jwt");
  if (!token) return tl::unexpected(token.error());
  return IssuedToken{std::move(*token), std::move(*jti), exp};
}

core::Result<IssuedToken> OpTokens::refreshToken(const TokenSubject& s,
                                                 const std::string& jti) const {
  const std::int64_t now = clock_.unixSeconds();
  const std::int64_t exp = now + settings_.refresh_ttl.count();
  // Not the access tokens' audience (which is the issuer when TOKEN_AUDIENCE is unset): a
  // resource server that checks `aud` and not `typ` must not take it for one (an outside review).
  json::object claims{{"iss", settings_.issuer},
                      {"sub", s.subject},
                      {"aud", refreshAudience()},
                      {"exp", exp},
                      {"iat", now},
                      {"jti", jti},
                      {"type", "refresh"},
                      {"sid", s.sid},
                      {"client_id", s.client_id},
                      {"scope", s.scope},
                      {"auth_time", s.auth_time},
                      {"amr", amrArray(s.amr)}};
  auto token = jose::signJwt(signing_, claims);
  if (!token) return tl::unexpected(token.error());
  return IssuedToken{std::move(*token), jti, exp};
}

core::Result<std::string> OpTokens::idToken(const TokenSubject& s, std::string_view access_token,
                                            json::object claims) const {
  const std::int64_t now = clock_.unixSeconds();
  // OIDC Core §2.
  claims["iss"] = settings_.issuer;
  claims["sub"] = s.subject;
  claims["aud"] = s.client_id;
  claims["azp"] = s.client_id;
  claims["exp"] = now + settings_.id_token_ttl.count();
  claims["iat"] = now;
  claims["auth_time"] = s.auth_time;
  claims["amr"] = amrArray(s.amr);
  claims["acr"] = acrOf(s.amr);
  if (!s.sid.empty()) claims["sid"] = s.sid;
  if (!access_token.empty()) claims["at_hash"] = atHash(access_token);
  return jose::signJwt(signing_, claims);
}

tl::expected<jose::Claims, jose::JwtError> OpTokens::verifyAccess(std::string_view token) const {
  auto jws = jose::verifyJws(token, keys_, {settings_.max_token_bytes});
  if (!jws) return tl::unexpected(jws.error());
  if (!isAccessTyp(jws->header.typ)) return tl::unexpected(jose::JwtError::BadType);
  auto claims =
      jose::checkClaims(jws->payload, {.issuer = settings_.issuer, .audience = settings_.audience},
                        clock_.unixSeconds());
  if (!claims) return claims;
  const auto* client = claims->raw.if_contains("client_id");
  const auto* scope = claims->raw.if_contains("scope");
  if (client == nullptr || !client->is_string() || scope == nullptr || !scope->is_string() ||
      !claims->type.empty() || claims->jti.empty())
    return tl::unexpected(jose::JwtError::BadClaim);
  claims->scopes = auth::splitScopes(scope->get_string());
  return claims;
}

tl::expected<jose::Claims, jose::JwtError> OpTokens::verifyRefresh(std::string_view token) const {
  auto jws = jose::verifyJws(token, keys_, {settings_.max_token_bytes});
  if (!jws) return tl::unexpected(jws.error());
  if (isAccessTyp(jws->header.typ)) return tl::unexpected(jose::JwtError::BadType);
  const auto check = [&](std::string audience) {
    return jose::checkClaims(
        jws->payload,
        {.issuer = settings_.issuer, .audience = std::move(audience), .type = "refresh"},
        clock_.unixSeconds());
  };
  auto claims = check(refreshAudience());
  // Issued by an earlier version, with the issuer as audience: good until it expires.
  if (!claims && claims.error() == jose::JwtError::BadAudience) claims = check(settings_.issuer);
  if (!claims) return claims;
  for (const char* name : {"client_id", "sid", "scope"}) {
    const auto* v = claims->raw.if_contains(name);
    if (v == nullptr || !v->is_string()) return tl::unexpected(jose::JwtError::BadClaim);
  }
  return claims;
}

std::string OpTokens::refreshAudience() const { return settings_.issuer + "/oauth2/token"; }

tl::expected<json::object, jose::JwtError> OpTokens::verifyIdTokenHint(
    std::string_view token) const {
  auto jws = jose::verifyJws(token, keys_, {settings_.max_token_bytes});
  if (!jws) return tl::unexpected(jws.error());
  if (isAccessTyp(jws->header.typ)) return tl::unexpected(jose::JwtError::BadType);
  boost::system::error_code ec;
  json::value v = json::parse(jws->payload, ec);
  if (ec || !v.is_object()) return tl::unexpected(jose::JwtError::BadClaim);
  json::object& o = v.get_object();
  const auto* iss = o.if_contains("iss");
  if (iss == nullptr || !iss->is_string() || iss->get_string() != settings_.issuer)
    return tl::unexpected(jose::JwtError::BadIssuer);
  // Only ID tokens: no refresh token ("type") and nothing without an audience.
  if (o.contains("type") || !o.contains("aud") || !o.contains("sub"))
    return tl::unexpected(jose::JwtError::BadClaim);
  return std::move(o);
}

}  // namespace gatehouse::op
