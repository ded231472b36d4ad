// /api/v1/auth: register, login, refresh, logout, me (API.md, Auth).
#include "api/body.hpp"
#include "api/services.hpp"

namespace gatehouse::api {
namespace {

auth::ClientInfo clientOf(const http::Request& r) {
  return {r.client_ip.empty() ? r.peer_ip : r.client_ip,
          std::string(r.header("user-agent").value_or(""))};
}

http::Response registerUser(Services& s, const http::Request& r) {
  Body body = Body::json(r);
  auth::RegisterInput in{body.requiredString("email"), body.requiredString("username"),
                         body.requiredString("password")};
  if (!body.ok()) return validationError(body.errors());
  auto pair = s.auth.registerUser(in, clientOf(r));
  if (!pair) return errorResponse(pair.error(), r);
  return tokenResponse(201, *pair);
}

http::Response login(Services& s, const http::Request& r) {
  Body body = Body::form(r);
  const std::string username = body.requiredString("username");
  const std::string password = body.requiredString("password");
  const auto grant_type = body.optionalString("grant_type");
  const auto scope = body.optionalString("scope");
  if (grant_type && *grant_type != "password") {
    body.errors().push_back({{"body", "grant_type"},
                             "string does not match regex \"password\"",
                             "value_error.str.regex"});
  }
  if (!body.ok()) return validationError(body.errors());
  auto pair = s.auth.login(username, password, scope, clientOf(r));
  if (!pair) return errorResponse(pair.error(), r);
  return tokenResponse(200, *pair);
}

http::Response refresh(Services& s, const http::Request& r) {
  Body body = Body::json(r);
  const std::string token = body.requiredString("refresh_token");
  if (!body.ok()) return validationError(body.errors());
  auto pair = s.auth.refresh(token);
  if (!pair) return errorResponse(pair.error(), r);
  return tokenResponse(200, *pair);
}

http::Response logout(Services& s, const http::Request& r) {
  auto who = authenticate(s, r);
  if (!who) return who.error();
  std::optional<std::string> refresh_token;
  if (!r.body.empty()) {
    Body body = Body::json(r);
    refresh_token = body.optionalString("refresh_token");
    if (!body.ok()) return validationError(body.errors());
  }
  if (auto ok = s.auth.logout(*who, refresh_token); !ok) return errorResponse(ok.error(), r);
  return http::Response::json(200, boost::json::object{{"message", "Successfully logged out"}});
}

http::Response me(Services& s, const http::Request& r) {
  auto who = authenticate(s, r);
  if (!who) return who.error();
  return http::Response::json(200, userJson(who->user));
}

}  // namespace

void addAuthRoutes(http::Router& router, Services& s) {
  router.add("POST", "/api/v1/auth/register",
             [&s](http::Request& r) { return registerUser(s, r); });
  router.add("POST", "/api/v1/auth/login", [&s](http::Request& r) { return login(s, r); });
  router.add("POST", "/api/v1/auth/refresh", [&s](http::Request& r) { return refresh(s, r); });
  router.add("POST", "/api/v1/auth/logout", [&s](http::Request& r) { return logout(s, r); });
  router.add("GET", "/api/v1/auth/me", [&s](http::Request& r) { return me(s, r); });
}

}  // namespace gatehouse::api
