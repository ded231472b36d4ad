// API keys (API.md, API keys), the seed's /external-data example, and forward-auth
// (GET /api/v1/auth/verify) for nginx auth_request and Traefik ForwardAuth.
#include <charconv>

#include "api/body.hpp"
#include "api/services.hpp"
#include "core/uri_path.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;

json::object keyJson(const store::ApiKey& k) {
  json::array scopes;
  for (const auto& s : k.scopes) scopes.emplace_back(s);
  return {{"id", k.id},
          {"name", k.name},
          {"prefix", std::string(auth::kApiKeyPrefix) + k.public_id},
          {"scopes", std::move(scopes)},
          {"created_at", rfc3339(k.created_at)},
          {"expires_at", k.expires_at ? json::value(rfc3339(*k.expires_at)) : json::value(nullptr)},
          {"last_used_at",
           k.last_used_at ? json::value(rfc3339(*k.last_used_at)) : json::value(nullptr)}};
}

// A non-negative integer query value within [min, max]; `fallback` when absent.
std::optional<std::int64_t> queryInt(const http::Request& r, const char* name, std::int64_t min,
                                     std::int64_t max, std::int64_t fallback,
                                     std::vector<auth::FieldError>& errors) {
  const auto text = r.queryParam(name);
  if (!text) return fallback;
  std::int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc{} || ptr != text->data() + text->size() || n < min || n > max) {
    errors.push_back({{"query", name},
                      "ensure this value is an integer between " + std::to_string(min) + " and " +
                          std::to_string(max),
                      "value_error.number.not_in_range"});
    return std::nullopt;
  }
  return n;
}

http::Response create(Services& s, const http::Request& r) {
  // Keys are made and managed with an access token: a key cannot mint or revoke keys.
  auto who = authenticateUser(s, r);
  if (!who) return who.error();
  Body body = Body::json(r);
  auth::NewApiKey request{body.requiredString("name"), body.optionalStringList("scopes"),
                          body.optionalInt("expires_in_days")};
  if (!body.ok()) return validationError(body.errors());
  auto created = s.api_keys.create(*who->user, who->permissions, request, clientOf(r));
  if (!created) return errorResponse(created.error(), r);
  json::object out = keyJson(created->key);
  out.erase("last_used_at");
  out["key"] = created->plaintext;
  auto res = http::Response::json(201, out);
  res.set("Cache-Control", "no-store");
  res.set("Pragma", "no-cache");
  return res;
}

http::Response list(Services& s, const http::Request& r) {
  auto who = authenticateUser(s, r);
  if (!who) return who.error();
  std::vector<auth::FieldError> errors;
  const auto limit = queryInt(r, "limit", 1, 1000, 100, errors);
  const auto offset = queryInt(r, "offset", 0, INT64_MAX, 0, errors);
  if (!errors.empty()) return validationError(errors);
  auto keys = s.api_keys.list(who->user->id);
  if (!keys) return errorResponse(keys.error(), r);
  json::array items;
  const auto total = static_cast<std::int64_t>(keys->size());
  for (std::int64_t i = *offset; i < total && i < *offset + *limit; ++i)
    items.push_back(keyJson((*keys)[static_cast<std::size_t>(i)]));
  return http::Response::json(200, json::object{{"items", std::move(items)}, {"total", total}});
}

http::Response remove(Services& s, const http::Request& r) {
  auto who = authenticateUser(s, r);
  if (!who) return who.error();
  auto parsed = pathId(r);
  if (!parsed) return parsed.error();
  const std::int64_t id = *parsed;
  if (auto ok = s.api_keys.revoke(who->user->id, id, clientOf(r)); !ok)
    return errorResponse(ok.error(), r);
  return http::Response::empty(204);
}

// The seed's example: only an API key (header or query), with its two 401 messages.
http::Response externalData(Services& s, const http::Request& r) {
  std::optional<std::string> key;
  if (auto header = r.header("x-api-key")) key = std::string(*header);
  if (!key) key = r.queryParam("api_key");
  if (!key) return http::Response::detail(401, "API key required");
  auto who = s.api_keys.authenticate(*key, clientOf(r));
  if (!who) {
    const auto code = who.error().code;
    if (code == auth::Errc::Unavailable || code == auth::Errc::Internal ||
        code == auth::Errc::WouldBlock) {
      return errorResponse(who.error(), r);
    }
    // The seed's message for every refused key, an inactive owner's included.
    return errorResponse({auth::Errc::InvalidApiKey, who.error().detail, {}, 0}, r);
  }
  return http::Response::json(200,
                              json::object{{"data", "external data"}, {"owner_id", who->user->id}});
}

// Forward-auth: 200 with identity headers, or a small 401/403. The original request's method and
// URI come from the configured proxy's headers only (FORWARD_AUTH_PROXY): nginx's X-Original-*,
// or the X-Forwarded-* of Traefik and Caddy. Route rules match the normalised path.
http::Response verify(Services& s, const http::Request& r) {
  const bool nginx = s.forward_auth_proxy == config::ForwardAuthProxy::Nginx;
  const std::string_view method_header = nginx ? "x-original-method" : "x-forwarded-method";
  const std::string_view uri_header = nginx ? "x-original-uri" : "x-forwarded-uri";
  auto who = authenticate(s, r, uri_header);
  if (!who) return who.error();
  std::vector<std::string> required = r.queryAll("permission");
  if (s.policy.hasRouteRules()) {
    const auto method = r.header(method_header);
    const auto uri = r.header(uri_header);
    if (!method || !uri) {
      // A proxy that does not send what FORWARD_AUTH_PROXY says would skip every route rule.
      return errorResponse({auth::Errc::Forbidden,
                            "forward-auth request without " + std::string(method_header) + " and " +
                                std::string(uri_header) + " (check FORWARD_AUTH_PROXY)",
                            {},
                            0},
                           r);
    }
    const auto path = core::normalizeRequestPath(*uri);
    if (!path) {
      return errorResponse(
          {auth::Errc::Forbidden, "original URI cannot be normalised safely", {}, 0}, r);
    }
    if (auto route = s.policy.permissionsForRoute(*method, *path))
      required.insert(required.end(), route->begin(), route->end());
  }
  if (auto denied = requirePermissions(*who, required, r)) return *denied;
  http::Response res = http::Response::empty(200);
  std::string scopes;
  for (const auto& p : who->permissions) scopes += (scopes.empty() ? "" : " ") + p;
  res.set("X-Auth-User-Id", std::to_string(who->user->id));
  res.set("X-Auth-User-Email", who->user->email);
  res.set("X-Auth-User-Role", who->user->role);
  res.set("X-Auth-Scopes", scopes);
  return res;
}

}  // namespace

void addApiKeyRoutes(http::Router& router, Services& s) {
  router.add("POST", "/api/v1/api-keys", [&s](http::Request& r) { return create(s, r); });
  router.add("GET", "/api/v1/api-keys", [&s](http::Request& r) { return list(s, r); });
  router.add("DELETE", "/api/v1/api-keys/{id}", [&s](http::Request& r) { return remove(s, r); });
  router.add("GET", "/api/v1/external-data", [&s](http::Request& r) { return externalData(s, r); });
  router.add("GET", "/api/v1/auth/verify", [&s](http::Request& r) { return verify(s, r); });
}

}  // namespace gatehouse::api
