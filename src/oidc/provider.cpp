#include "oidc/provider.hpp"

#include <algorithm>
#include <charconv>

#include "core/base64url.hpp"
#include "core/log.hpp"
#include "core/strict_json.hpp"
#include "crypto/digest.hpp"

namespace gatehouse::oidc {
namespace {

namespace json = boost::json;
using core::Errc;
using core::makeError;

constexpr std::int64_t kDefaultCacheSeconds = 3600;
constexpr std::int64_t kMaxIdTokenAge = 600;
constexpr std::int64_t kLeeway = 60;

std::string stringMember(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

bool arrayContains(const json::object& o, std::string_view name, std::string_view value) {
  const auto* v = o.if_contains(name);
  if (v == nullptr || !v->is_array()) return false;
  for (const auto& e : v->get_array()) {
    if (e.is_string() && e.get_string() == value) return true;
  }
  return false;
}

}  // namespace

std::int64_t cacheLifetime(const HttpResponse& response, std::int64_t fallback) {
  const auto it = response.headers.find("cache-control");
  if (it == response.headers.end()) return fallback;
  const std::string& v = it->second;
  if (v.find("no-store") != std::string::npos || v.find("no-cache") != std::string::npos) return 0;
  const auto pos = v.find("max-age=");
  if (pos == std::string::npos) return fallback;
  std::int64_t seconds = 0;
  const char* begin = v.data() + pos + 8;
  const auto [ptr, ec] = std::from_chars(begin, v.data() + v.size(), seconds);
  if (ec != std::errc{} || ptr == begin) return fallback;
  return std::clamp<std::int64_t>(seconds, 0, 86400);
}

std::optional<Provider::Slot> Provider::enter() {
  std::unique_lock lock(slots_mutex_);
  if (busy_ >= kMaxAtOnce) {
    if (waiting_ >= kMaxAtOnce) return std::nullopt;
    ++waiting_;
    const bool free = slot_free_.wait_for(lock, kSlotWait, [this] { return busy_ < kMaxAtOnce; });
    --waiting_;
    if (!free) return std::nullopt;
  }
  ++busy_;
  return Slot(this);
}

void Provider::leave() {
  {
    const std::lock_guard lock(slots_mutex_);
    --busy_;
  }
  slot_free_.notify_one();
}

core::Result<Metadata> Provider::metadata() {
  return metadata_.get(false, [this] { return fetchMetadata(); });
}

core::Result<std::pair<Metadata, std::int64_t>> Provider::fetchMetadata() {
  std::string url = config_.issuer;
  while (url.ends_with('/')) url.pop_back();
  auto response = http_.get(url + "/.well-known/openid-configuration");
  if (!response) return tl::unexpected(response.error());
  if (response->status != 200) {
    return makeError(Errc::Unavailable, "discovery for " + config_.name + " answered " +
                                            std::to_string(response->status));
  }
  auto doc = core::parseStrictJson(response->body);
  if (!doc || !doc->is_object())
    return makeError(Errc::Unavailable, "discovery document of " + config_.name + " is not JSON");
  const auto& o = doc->get_object();
  Metadata m;
  m.issuer = stringMember(o, "issuer");
  // OIDC Discovery §4.3: the document's issuer must be exactly the one we asked.
  if (m.issuer != config_.issuer) {
    return makeError(Errc::FailedPrecondition,
                     "discovery issuer " + m.issuer + " differs from configured " + config_.issuer);
  }
  m.authorization_endpoint = stringMember(o, "authorization_endpoint");
  m.token_endpoint = stringMember(o, "token_endpoint");
  m.jwks_uri = stringMember(o, "jwks_uri");
  for (const auto* endpoint : {&m.authorization_endpoint, &m.token_endpoint, &m.jwks_uri}) {
    if (!endpoint->starts_with("https://")) {
      return makeError(Errc::FailedPrecondition,
                       "discovery of " + config_.name + " lacks an https endpoint");
    }
  }
  const auto* iss_param = o.if_contains("authorization_response_iss_parameter_supported");
  m.iss_parameter_supported = iss_param != nullptr && iss_param->is_bool() && iss_param->get_bool();
  m.token_auth_basic =
      !o.contains("token_endpoint_auth_methods_supported") ||
      arrayContains(o, "token_endpoint_auth_methods_supported", "client_secret_basic") ||
      !arrayContains(o, "token_endpoint_auth_methods_supported", "client_secret_post");
  return std::pair{std::move(m), cacheLifetime(*response, kDefaultCacheSeconds)};
}

core::Result<jose::KeySet> Provider::keys(bool refresh) {
  return keys_.get(refresh, [this] { return fetchKeys(); });
}

core::Result<std::pair<jose::KeySet, std::int64_t>> Provider::fetchKeys() {
  auto meta = metadata();
  if (!meta) return tl::unexpected(meta.error());
  auto response = http_.get(meta->jwks_uri);
  if (!response) return tl::unexpected(response.error());
  if (response->status != 200)
    return makeError(Errc::Unavailable,
                     "JWKS of " + config_.name + " answered " + std::to_string(response->status));
  auto doc = core::parseStrictJson(response->body);
  if (!doc) return makeError(Errc::Unavailable, "JWKS of " + config_.name + " is not JSON");
  // Keys for other uses or algorithms are dropped; the pinned algorithm binds the rest.
  auto set = jose::KeySet::fromJwks(*doc, jose::KeySet::Mode::SkipUnusable, config_.id_token_alg);
  if (!set) return tl::unexpected(set.error());
  const std::size_t listed = doc->as_object().at("keys").as_array().size();
  if (set->keys().size() < listed) {
    spdlog::warn(
        "JWKS of {}: {} of {} keys skipped (another use or algorithm than {}, or malformed)",
        config_.name, listed - set->keys().size(), listed,
        jose::algorithmName(config_.id_token_alg));
  }
  return std::pair{std::move(*set), cacheLifetime(*response, kDefaultCacheSeconds)};
}

tl::expected<jose::Claims, IdTokenError> Provider::verifyIdToken(std::string_view id_token,
                                                                 std::string_view nonce,
                                                                 std::string_view access_token) {
  auto set = keys(false);
  if (!set) return tl::unexpected(IdTokenError::KeysUnavailable);
  auto jws = jose::verifyJws(id_token, *set);
  if (!jws && jws.error() == jose::JwtError::UnknownKey) {
    // A rotated key at the provider: fetch the JWKS once more, then decide.
    set = keys(true);
    if (!set) return tl::unexpected(IdTokenError::KeysUnavailable);
    jws = jose::verifyJws(id_token, *set);
  }
  if (!jws) return tl::unexpected(IdTokenError::Jws);
  const std::int64_t now = clock_.unixSeconds();
  auto claims = jose::checkClaims(jws->payload,
                                  {.issuer = config_.issuer,
                                   .audience = config_.client_id,
                                   .leeway = std::chrono::seconds(kLeeway)},
                                  now);
  if (!claims) return tl::unexpected(IdTokenError::Claims);
  const auto* token_nonce = claims->raw.if_contains("nonce");
  if (token_nonce == nullptr || !token_nonce->is_string() ||
      !crypto::constantTimeEquals(token_nonce->get_string(), nonce)) {
    return tl::unexpected(IdTokenError::Nonce);
  }
  // OIDC Core §3.1.3.7 items 4-5: with several audiences azp must be present and be us.
  const auto* aud = claims->raw.if_contains("aud");
  const auto* azp = claims->raw.if_contains("azp");
  const bool several = aud != nullptr && aud->is_array() && aud->get_array().size() > 1;
  if ((several && azp == nullptr) ||
      (azp != nullptr && (!azp->is_string() || azp->get_string() != config_.client_id))) {
    return tl::unexpected(IdTokenError::Azp);
  }
  if (!claims->iat || now - *claims->iat > kMaxIdTokenAge + kLeeway)
    return tl::unexpected(IdTokenError::Stale);
  if (claims->sub.empty()) return tl::unexpected(IdTokenError::NoSubject);
  // OIDC Core §3.1.3.6 / §3.3.2.11: at_hash is the left half of the hash (the ID token's
  // algorithm's, SHA-512 for EdDSA with Ed25519) of the access token, base64url.
  if (const auto* at_hash = claims->raw.if_contains("at_hash")) {
    if (!at_hash->is_string() || access_token.empty()) return tl::unexpected(IdTokenError::AtHash);
    const auto alg = jose::algorithmName(config_.id_token_alg);
    const crypto::Digest d =
        alg.ends_with("384") ? crypto::Digest::Sha384
        : alg.ends_with("512") || config_.id_token_alg == jose::Algorithm::EdDsa
            ? crypto::Digest::Sha512
            : crypto::Digest::Sha256;
    const std::string full = crypto::digest(d, access_token);
    const std::string expected = core::base64urlEncode(full.substr(0, full.size() / 2));
    if (full.empty() || !crypto::constantTimeEquals(at_hash->get_string(), expected))
      return tl::unexpected(IdTokenError::AtHash);
  }
  return std::move(*claims);
}

}  // namespace gatehouse::oidc
