#include "auth/tokens.hpp"

#include <atomic>

#include "core/log.hpp"
#include "crypto/random.hpp"

namespace gatehouse::auth {

namespace json = boost::json;

core::Result<std::string> newTokenId() { return crypto::randomToken(16); }

TokenService::TokenService(jose::Key signing_key, jose::KeySet verification_keys,
                           TokenSettings settings, const core::Clock& clock, RetiredKeys retired)
    : settings_(std::move(settings)), clock_(&clock), current_(nullptr) {
  setKeys(std::move(signing_key), std::move(verification_keys), std::move(retired));
}

void TokenService::setKeys(jose::Key signing_key, jose::KeySet verification_keys,
                           RetiredKeys retired) {
  // Built in place: the cache of verified tokens cannot move.
  auto keys = std::unique_ptr<const Keys>(new Keys{
      std::move(signing_key),
      jose::JwtVerifier(
          std::move(verification_keys),
          jose::ClaimsPolicy{
              .issuer = settings_.issuer, .audience = settings_.audience, .type = "access"},
          *clock_, jose::JwsLimits{.max_token_bytes = settings_.max_token_bytes}),
      {},
      std::move(retired)});
  const std::lock_guard lock(history_mutex_);
  // Tokens verified under the keys before keep no memory once requests move to the new ones.
  if (const Keys* previous = current_.load(std::memory_order_acquire)) previous->verified.retire();
  current_.store(keys.get(), std::memory_order_release);
  history_.push_back(std::move(keys));
}

core::Result<TokenPair> TokenService::issue(std::int64_t user_id,
                                            const std::vector<std::string>& scopes,
                                            const std::string& session_id,
                                            const std::string& refresh_jti, const Grant& grant,
                                            bool email_verified) const {
  const std::int64_t now = clock_->unixSeconds();
  auto access_jti = newTokenId();
  if (!access_jti) return tl::unexpected(access_jti.error());
  const std::string sub = std::to_string(user_id);

  json::object access;
  access["sub"] = sub;
  access["exp"] = now + settings_.access_ttl.count();
  access["iat"] = now;
  access["type"] = "access";
  json::array scope_list;
  for (const auto& s : scopes) scope_list.emplace_back(s);
  access["scopes"] = std::move(scope_list);
  access["jti"] = *access_jti;
  access["iss"] = settings_.issuer;
  access["sid"] = session_id;
  if (settings_.audience) access["aud"] = *settings_.audience;
  json::array amr;
  for (const auto& m : grant.amr) amr.emplace_back(m);
  if (!amr.empty()) access["amr"] = amr;
  if (grant.auth_time > 0) access["auth_time"] = grant.auth_time;
  access["email_verified"] = email_verified;

  json::object refresh;
  refresh["sub"] = sub;
  refresh["exp"] = now + settings_.refresh_ttl.count();
  refresh["iat"] = now;
  refresh["type"] = "refresh";
  refresh["jti"] = refresh_jti;
  refresh["iss"] = settings_.issuer;
  refresh["sid"] = session_id;
  if (grant.scope) {
    std::string scope;
    for (const auto& sc : *grant.scope) scope += (scope.empty() ? "" : " ") + sc;
    refresh["scope"] = scope;
  }
  if (!amr.empty()) refresh["amr"] = std::move(amr);
  if (grant.auth_time > 0) refresh["auth_time"] = grant.auth_time;
  if (settings_.audience) refresh["aud"] = *settings_.audience;

  // One set of keys for both tokens, even when a rotation lands between them.
  const Keys& keys = current();
  auto access_token = jose::signJwt(keys.signing, access);
  if (!access_token) return tl::unexpected(access_token.error());
  auto refresh_token = jose::signJwt(keys.signing, refresh);
  if (!refresh_token) return tl::unexpected(refresh_token.error());
  return TokenPair{std::move(*access_token), std::move(*refresh_token),
                   settings_.access_ttl.count(), std::move(*access_jti),
                   now + settings_.access_ttl.count()};
}

tl::expected<std::shared_ptr<const jose::Claims>, jose::JwtError> TokenService::verifyAccessShared(
    std::string_view token) const {
  const Keys& keys = current();
  // The size limit first (the verifier's own): nothing longer is hashed, let alone parsed.
  if (token.size() > settings_.max_token_bytes) return tl::unexpected(jose::JwtError::TooLarge);
  const auto key = VerifiedTokens::keyOf(token);  // hashed once for the lookup and the entry
  if (auto seen = key ? keys.verified.find(*key) : nullptr) {
    // Verified before under these keys: only time has moved since.
    const auto& verifier = keys.verifier;
    if (auto ok = jose::checkTimes(*seen, verifier.policy(), verifier.clock().unixSeconds()); !ok) {
      if (ok.error() == jose::JwtError::Expired) keys.verified.forget(*key);
      return tl::unexpected(ok.error());
    }
    return seen;
  }
  auto claims = keys.verifier.verify(token);
  if (!claims) return tl::unexpected(claims.error());
  if (auto refused = retiredKeyRefusal(keys, *claims, settings_.access_ttl))
    return tl::unexpected(*refused);
  if (claims->iat && claims->exp - *claims->iat > settings_.access_ttl.count())
    warnLongerLifetime(claims->exp - *claims->iat);
  return keys.verified.remember(key, std::move(*claims));
}

// An ended session's access tokens are refused for ACCESS_TOKEN_EXPIRE_MINUTES from the end, by
// the ending node's setting: a token signed to live longer (another node's, or this one's before
// the setting was lowered) would come back before it expires (found by an outside attack). Said
// once per process, not per token.
void TokenService::warnLongerLifetime(std::int64_t seconds) const {
  static std::atomic<bool> said{false};
  if (said.exchange(true)) return;
  spdlog::warn(
      "an access token signed to live {} s was presented, longer than this node's "
      "ACCESS_TOKEN_EXPIRE_MINUTES ({} s): its session's end is remembered only that long here. "
      "Give every node the same token lifetimes",
      seconds, settings_.access_ttl.count());
}

std::optional<jose::JwtError> TokenService::retiredKeyRefusal(const Keys& keys,
                                                              const jose::Claims& claims,
                                                              std::chrono::seconds lifetime) {
  const auto it = keys.retired.find(claims.kid);
  if (it == keys.retired.end()) return std::nullopt;
  if (!claims.iat || *claims.iat > it->second + kRetiredLeewaySeconds ||
      claims.exp - *claims.iat > lifetime.count())
    return jose::JwtError::BadClaim;
  // Every token this server signed names its session and itself: one without could skip the
  // session's and the revocations' checks.
  const auto* sid = claims.raw.if_contains("sid");
  if (claims.jti.empty() || sid == nullptr || !sid->is_string() || sid->get_string().empty())
    return jose::JwtError::BadClaim;
  return std::nullopt;
}

tl::expected<jose::Claims, jose::JwtError> TokenService::verifyAccess(
    std::string_view token) const {
  auto claims = verifyAccessShared(token);
  if (!claims) return tl::unexpected(claims.error());
  return **claims;
}

tl::expected<jose::Claims, jose::JwtError> TokenService::verifyRefresh(
    std::string_view token) const {
  const Keys& keys = current();
  auto claims = keys.verifier.verify(token, "refresh");
  if (!claims) return claims;
  if (auto refused = retiredKeyRefusal(keys, *claims, settings_.refresh_ttl))
    return tl::unexpected(*refused);
  return claims;
}

}  // namespace gatehouse::auth
