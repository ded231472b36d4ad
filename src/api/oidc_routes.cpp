// Sign-in with external OpenID providers (API.md, External login) and the user's identities.
#include <charconv>

#include "api/body.hpp"
#include "api/services.hpp"
#include "oidc/oidc_service.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;

std::optional<std::string> cookie(const http::Request& r, std::string_view name) {
  const auto header = r.header("cookie");
  if (!header) return std::nullopt;
  std::string_view rest = *header;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    std::string_view part = rest.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.starts_with(name) && part.size() > name.size() && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

std::string cookiePath(const std::string& provider) {
  return "/api/v1/auth/oauth/" + provider + "/callback";
}

http::Response redirect(const std::string& location) {
  http::Response res = http::Response::empty(302);
  res.set("Location", location);
  return res;
}

http::Response start(Services& s, const http::Request& r) {
  const std::string& provider = r.path_params.at("provider");
  if (!s.oidc.hasProvider(provider)) return http::Response::detail(404, "Not Found");
  auto begun = s.oidc.begin(provider);
  if (!begun) return errorResponse({auth::Errc::Unavailable, begun.error().message, {}, 0}, r);
  http::Response res = redirect(begun->location);
  // Bound to this browser: HttpOnly, Secure, SameSite=Lax (it must ride the provider's redirect
  // back), scoped to the callback path, ten minutes.
  res.set("Set-Cookie", std::string(oidc::OidcService::kCookieName) + "=" + begun->cookie +
                            "; Path=" + cookiePath(provider) +
                            "; Max-Age=600; HttpOnly; Secure; SameSite=Lax");
  return res;
}

http::Response callback(Services& s, const http::Request& r) {
  const std::string& provider = r.path_params.at("provider");
  if (!s.oidc.hasProvider(provider)) return http::Response::detail(404, "Not Found");
  oidc::OidcService::Callback cb;
  for (const char* name : {"code", "state", "iss", "error"}) {
    if (auto v = r.queryParam(name)) cb.params[name] = *v;
  }
  cb.cookie = cookie(r, oidc::OidcService::kCookieName);
  http::Response res = redirect(s.oidc.complete(provider, cb, clientOf(r)));
  res.set("Set-Cookie", std::string(oidc::OidcService::kCookieName) + "=; Path=" +
                            cookiePath(provider) + "; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
  return res;
}

http::Response exchange(Services& s, const http::Request& r) {
  Body body = Body::json(r);
  const std::string code = body.requiredString("code");
  if (!body.ok()) return validationError(body.errors());
  auto pair = s.oidc.exchange(code, clientOf(r));
  if (!pair) return http::Response::detail(400, "Invalid or expired code");
  if (!*pair) return errorResponse(pair->error(), r);
  return tokenResponse(200, **pair);
}

http::Response identities(Services& s, const http::Request& r) {
  auto who = authenticateUser(s, r);
  if (!who) return who.error();
  auto list = s.store.identities().listForUser(who->user->id);
  if (!list) return errorResponse({auth::Errc::Unavailable, list.error().message, {}, 0}, r);
  json::array items;
  for (const auto& i : *list) {
    items.push_back(json::object{{"id", i.id},
                                 {"provider", i.provider},
                                 {"subject", i.subject},
                                 {"email", i.email},
                                 {"created_at", rfc3339(i.created_at)}});
  }
  return http::Response::json(200, json::object{{"items", std::move(items)}});
}

http::Response unlink(Services& s, const http::Request& r) {
  auto who = authenticateUser(s, r);
  if (!who) return who.error();
  auto parsed = pathId(r);
  if (!parsed) return parsed.error();
  const std::int64_t id = *parsed;
  auto ok = s.store.identities().removeUnlessLast(id, who->user->id);
  if (!ok) {
    if (ok.error().code == core::Errc::NotFound)
      return http::Response::detail(404, "Identity not found");
    if (ok.error().code == core::Errc::FailedPrecondition) {
      return http::Response::detail(409, "Cannot remove the last way to sign in");
    }
    return errorResponse({auth::Errc::Unavailable, ok.error().message, {}, 0}, r);
  }
  s.audit.record({"identity.unlinked",
                  r.request_id,
                  who->user->id,
                  who->user->id,
                  clientOf(r).ip,
                  std::string(r.header("user-agent").value_or("")),
                  {{"identity_id", id}}});
  return http::Response::empty(204);
}

}  // namespace

void addOidcRoutes(http::Router& router, Services& s) {
  router.add("POST", "/api/v1/auth/oauth/exchange",
             [&s](http::Request& r) { return exchange(s, r); });
  router.add("GET", "/api/v1/auth/oauth/{provider}",
             [&s](http::Request& r) { return start(s, r); });
  router.add("GET", "/api/v1/auth/oauth/{provider}/callback",
             [&s](http::Request& r) { return callback(s, r); });
  router.add("GET", "/api/v1/auth/identities", [&s](http::Request& r) { return identities(s, r); });
  router.add("DELETE", "/api/v1/auth/identities/{id}",
             [&s](http::Request& r) { return unlink(s, r); });
}

}  // namespace gatehouse::api
