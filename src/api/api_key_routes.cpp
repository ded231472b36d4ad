// API keys (API.md, API keys), the seed's /external-data example, and forward-auth
// (GET /api/v1/auth/verify) for nginx auth_request and Traefik ForwardAuth.
#include <algorithm>
#include <charconv>

#include "api/body.hpp"
#include "api/page_support.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/claims.hpp"
#include "core/ascii.hpp"
#include "core/uri_path.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;
using http::Lane;

}  // namespace

auth::Result<auth::CreatedApiKey> createApiKey(Call& c, const auth::NewApiKey& request) {
  auto created = c.services.api_keys.create(*c.who->user, c.who->permissions, request,
                                            auth::sessionOf(c.who->claims()), clientOf(c.request));
  if (!created) return created;
  // A password change or deactivation racing this request must not leave a key minted with the
  // credential it ended: checked again now that the key exists (the change lists keys after its
  // own write, so one of the two sees the other).
  if (auto valid = c.services.token_check.stillValid(*c.who); !valid) {
    (void)c.services.api_keys.revoke(c.who->user->id, created->key.id, clientOf(c.request));
    return tl::unexpected(valid.error());
  }
  return created;
}

namespace {

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

// Keys are made and managed with an access token (Credential::UserToken): a key cannot mint or
// revoke keys.
http::Response create(Call& c) {
  Body& body = *c.body;
  // An unknown field is a 422, not ignored: a mistyped "scope" would have made a key with every
  // permission of its owner.
  body.forbidOthers({"name", "scopes", "expires_in_days"});
  auth::NewApiKey request{body.requiredString("name"), body.optionalStringList("scopes"),
                          body.optionalInt("expires_in_days")};
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);
  auto created = createApiKey(c, request);
  if (!created) return errorResponse(created.error(), c.request);
  json::object out = keyJson(created->key);
  out.erase("last_used_at");
  out["key"] = created->plaintext;
  auto res = http::Response::json(201, out);
  res.set("Cache-Control", "no-store");
  res.set("Pragma", "no-cache");
  return res;
}

http::Response list(Call& c) {
  std::vector<auth::FieldError> errors;
  const auto limit = queryInteger(c.request, "limit", 1, 1000, 100, errors);
  const auto offset = queryInteger(c.request, "offset", 0, INT64_MAX, 0, errors);
  if (!errors.empty()) return validationError(errors);
  auto keys = c.services.api_keys.list(c.who->user->id);
  if (!keys) return errorResponse(keys.error(), c.request);
  json::array items;
  const auto total = static_cast<std::int64_t>(keys->size());
  for (std::int64_t i = *offset; i < total && i < *offset + *limit; ++i)
    items.push_back(keyJson((*keys)[static_cast<std::size_t>(i)]));
  return http::Response::json(200, json::object{{"items", std::move(items)}, {"total", total}});
}

http::Response remove(Call& c) {
  auto id = pathId(c.request);
  if (!id) return id.error();
  if (auto ok = c.services.api_keys.revoke(c.who->user->id, *id, clientOf(c.request)); !ok)
    return errorResponse(ok.error(), c.request);
  return http::Response::empty(204);
}

// The seed's example: only an API key (header or query), with its two 401 messages (the
// middleware, Credential::ApiKey).
http::Response externalData(Call& c) {
  return http::Response::json(
      200, json::object{{"data", "external data"}, {"owner_id", c.who->user->id}});
}

// Forward-auth: 200 with identity headers, or a small 401/403. The original request's method and
// URI come from the configured proxy's headers only (FORWARD_AUTH_PROXY): nginx's X-Original-*,
// or the X-Forwarded-* of Traefik and Caddy. Route rules match the normalised path.
http::Response verify(Call& c) {
  Services& s = c.services;
  const auto& r = c.request;
  const auto [method_header, uri_header, other_method, other_uri] =
      originalRequestHeaders(s.forward_auth_proxy);
  const auth::Principal* who = c.who;
  std::vector<std::string> required = r.queryAll("permission");
  if (s.policy.hasRouteRules()) {
    // The other kind's headers can only come from the client (the configured proxy sends its own
    // and the documented configurations drop the others): refused, so that a proxy configured
    // as the wrong kind fails closed instead of believing the client.
    if (r.header(other_method) || r.header(other_uri)) {
      return errorResponse({auth::Errc::Forbidden,
                            "forward-auth request carries " + std::string(other_method) + "/" +
                                std::string(other_uri) + ", which FORWARD_AUTH_PROXY does not send",
                            {},
                            0},
                           r);
    }
    if (r.headerCount(method_header) > 1 || r.headerCount(uri_header) > 1) {
      // Which value the proxy sent is unknown, and the one read first may be the client's.
      return errorResponse({auth::Errc::Forbidden,
                            "forward-auth request carries " + std::string(method_header) + " or " +
                                std::string(uri_header) + " more than once",
                            {},
                            0},
                           r);
    }
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
    // A method is a token (RFC 9110 §9.1): an empty or blank one matched no method's rule and
    // passed a GET rule's path (found by an outside attack).
    if (method->empty() || !std::all_of(method->begin(), method->end(), core::isTokenChar)) {
      return errorResponse({auth::Errc::Forbidden, "original method is not an HTTP method", {}, 0},
                           r);
    }
    const auto path = core::normalizeRequestPath(*uri);
    if (!path) {
      return errorResponse(
          {auth::Errc::Forbidden, "original URI cannot be normalised safely", {}, 0}, r);
    }
    const auto route = s.policy.routeRequirement(*method, *path);
    if (route)
      required.insert(required.end(), route->permissions.begin(), route->permissions.end());
    // A rule with "mfa": true wants a sign-in that used a second factor (API keys never did).
    if (route && route->mfa && (who->api_key_id || !auth::provesSecondFactor(who->claims()))) {
      http::Response refused = errorResponse(
          {auth::Errc::StepUpRequired, "route rule wants a second factor", {}, s.step_up_max_age},
          r);
      // A browser signed in before its second factor was enrolled: to the portal, to sign in
      // again with it (a user without one would only come back: they get the plain refusal).
      if (auth::BrowserSessions::isBrowserSession(who->claims()) && who->user->mfa_enabled)
        pages::sendToPortal(s, r, refused, true);
      return refused;
    }
  }
  if (auto denied = requirePermissions(*who, required, r)) return *denied;
  http::Response res = http::Response::empty(200);
  std::string scopes;
  for (const auto& p : who->permissions) scopes += (scopes.empty() ? "" : " ") + p;
  res.set("X-Auth-User-Id", std::to_string(who->user->id));
  // An OpenID client's token names the email only when the person granted it the email scope.
  const bool email_granted =
      who->client_id.empty() || std::find(who->claims().scopes.begin(), who->claims().scopes.end(),
                                          "email") != who->claims().scopes.end();
  res.set("X-Auth-User-Email", email_granted ? who->user->email : std::string());
  res.set("X-Auth-User-Role", who->user->role);
  res.set("X-Auth-Scopes", scopes);
  // How the user signed in (RFC 8176 amr, space-separated; empty for an API key).
  res.set("X-Auth-Amr", auth::amrText(who->claims()));
  // The OpenID client whose access token it is, empty for the user's own token, session or key:
  // any client's token passes as its user, and an application can tell them apart (found by an
  // outside attack: a third-party client replayed its user's token at forward-auth).
  res.set("X-Auth-Client", who->client_id);
  return res;
}

}  // namespace

// The handlers the pages run for their forms (handlers.hpp).
namespace handlers {
http::Response revokeApiKey(Call& c) { return api::remove(c); }
}  // namespace handlers

void addApiKeyRoutes(RouteTable& t) {
  t.add({.method = "POST",
         .path = "/api/v1/api-keys",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .step_up = true,
         .summary = "Create an API key (shown once)",
         .tag = "api-keys",
         .description = "Scopes default to the caller's permissions and must be among them. At "
                        "most API_KEYS_PER_USER live keys.",
         .body = BodyKind::Json,
         .body_schema = "ApiKeyRequest",
         .replies = {{201, "The key, with its secret shown only here", "ApiKeyCreated"},
                     {409, "API key limit reached", "ErrorDetail"}},
         .limits = {kAccountChangeLimit},
         .handler = create});
  t.add({.method = "GET",
         .path = "/api/v1/api-keys",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .summary = "The caller's live API keys, newest first (no secrets)",
         .tag = "api-keys",
         .params = {{"limit", "query", "integer", false, "1 to 1000 (100)"},
                    {"offset", "query", "integer", false, "0 or more (0)"}},
         .replies = {{200, "A page of keys", "ApiKeyPage"}},
         .handler = list});
  t.add({.method = "DELETE",
         .path = "/api/v1/api-keys/{id}",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .summary = "Revoke one of the caller's API keys",
         .tag = "api-keys",
         .replies = {{204, "Revoked", ""}, {404, "API key not found", "ErrorDetail"}},
         .handler = remove});
  t.add({.method = "GET",
         .path = "/api/v1/external-data",
         .credential = Credential::ApiKey,
         .lane = Lane::Inline,
         .summary = "The seed's example of an API-key-only endpoint",
         .tag = "api-keys",
         .replies = {{200, "Data", "ExternalData"},
                     {401, "API key required / Invalid API key", "ErrorDetail"}},
         .handler = externalData});
  t.add({.method = "GET",
         .path = "/api/v1/auth/verify",
         .credential = Credential::TokenOrKey,
         .lane = Lane::Inline,
         .summary = "Forward-auth: may this request pass? (nginx auth_request, Traefik, Caddy)",
         .tag = "forward-auth",
         .description =
             "Requires every ?permission= plus the policy file's route rule for the original "
             "method and normalised path (headers of FORWARD_AUTH_PROXY). Without a token or "
             "key in the headers, the pages' gatehouse_session cookie is taken, and only without "
             "it an ?api_key= in the original URI or this URL's query (a link's key never "
             "outranks the browser's own sign-in; with ?rd a page navigation never passes on "
             "such a key). With ?rd, a refused page "
             "navigation (Sec-Fetch-Mode: navigate, or Accept: text/html) gets Location: "
             "<GATEHOUSE_PUBLIC_URL>/ui/login?return_to=<original URL> (rd's value, else "
             "X-Original-URL, else X-Forwarded-Proto/-Host and the original URI), when that URL's "
             "origin is in ALLOWED_RETURN_URLS: 401 for nginx (auth_request_set), 302 for "
             "Traefik and Caddy.",
         .params = {{"permission", "query", "string", false, "a required permission (repeat)"},
                    {"rd", "query", "string", false,
                     "point a refused browser at the portal; the value, when not empty, is the "
                     "URL to return to"}},
         .replies = {{200,
                      "Allowed; identity in X-Auth-User-Id, -Email, -Role, X-Auth-Scopes, "
                      "X-Auth-Amr and X-Auth-Client",
                      ""},
                     {302, "Traefik/Caddy with ?rd: to the portal (Location)", ""}},
         .credentials_in_original_uri = true,
         .session_cookie = true,
         .handler = verify});
}

}  // namespace gatehouse::api
