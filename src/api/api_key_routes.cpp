// API keys (API.md, API keys), the seed's /external-data example, and forward-auth
// (GET /api/v1/auth/verify) for nginx auth_request and Traefik ForwardAuth.
#include <charconv>

#include "api/body.hpp"
#include "api/services.hpp"

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

// Keys are made and managed with an access token: a key cannot mint or revoke keys.
tl::expected<auth::Principal, http::Response> tokenOnly(Services& s, const http::Request& r) {
  auto who = authenticate(s, r);
  if (who && who->api_key_id) {
    return tl::unexpected(
        errorResponse({auth::Errc::Forbidden, "API keys cannot manage API keys", {}, 0}, r));
  }
  return who;
}

http::Response create(Services& s, const http::Request& r) {
  auto who = tokenOnly(s, r);
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
  auto who = tokenOnly(s, r);
  if (!who) return who.error();
  auto keys = s.api_keys.list(who->user->id);
  if (!keys) return errorResponse(keys.error(), r);
  json::array items;
  for (const auto& k : *keys) items.push_back(keyJson(k));
  return http::Response::json(200, json::object{{"items", std::move(items)}});
}

http::Response remove(Services& s, const http::Request& r) {
  auto who = tokenOnly(s, r);
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
    if (who.error().code == auth::Errc::Unavailable || who.error().code == auth::Errc::Internal) {
      return errorResponse(who.error(), r);
    }
    return http::Response::detail(401, "Invalid API key");
  }
  return http::Response::json(200,
                              json::object{{"data", "external data"}, {"owner_id", who->user->id}});
}

// Forward-auth: 200 with identity headers, or a small 401/403. The original request's method and
// URI come from nginx (X-Original-*) or Traefik (X-Forwarded-*) for the policy's route map.
http::Response verify(Services& s, const http::Request& r) {
  auto who = authenticate(s, r, true);
  if (!who) return who.error();
  std::vector<std::string> required = r.queryAll("permission");
  const auto method =
      r.header("x-original-method").value_or(r.header("x-forwarded-method").value_or(""));
  auto uri = r.header("x-original-uri").value_or(r.header("x-forwarded-uri").value_or(""));
  uri = uri.substr(0, uri.find('?'));
  if (!method.empty() && !uri.empty()) {
    if (auto route = s.policy.permissionsForRoute(method, uri))
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
