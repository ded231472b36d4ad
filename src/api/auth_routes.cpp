// /api/v1/auth (API.md, Auth): register, login, refresh, logout, me, revoke, introspect,
// sessions, password.
#include "api/body.hpp"
#include "api/services.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;

http::Response registerUser(Services& s, const http::Request& r) {
  if (!s.registration_enabled) {
    return errorResponse({auth::Errc::RegistrationDisabled, "REGISTRATION_ENABLED=false", {}, 0},
                         r);
  }
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
  auto pair = s.auth.refresh(token, clientOf(r));
  if (!pair) return errorResponse(pair.error(), r);
  return tokenResponse(200, *pair);
}

http::Response logout(Services& s, const http::Request& r) {
  auto who = authenticateUser(s, r);
  if (!who) return who.error();
  std::optional<std::string> refresh_token;
  if (!r.body.empty()) {
    Body body = Body::json(r);
    refresh_token = body.optionalString("refresh_token");
    if (!body.ok()) return validationError(body.errors());
  }
  if (auto ok = s.auth.logout(*who, refresh_token, clientOf(r)); !ok)
    return errorResponse(ok.error(), r);
  return http::Response::json(200, json::object{{"message", "Successfully logged out"}});
}

http::Response me(Services& s, const http::Request& r) {
  auto who = authenticate(s, r);
  if (!who) return who.error();
  return http::Response::json(200, userJson(*who->user));
}

// RFC 7009 §2.1: form `token`, optional `token_type_hint`; 200 even for unknown tokens.
http::Response revoke(Services& s, const http::Request& r) {
  Body body = Body::form(r);
  const std::string token = body.requiredString("token");
  const auto hint = body.optionalString("token_type_hint");
  if (!body.ok()) return validationError(body.errors());
  if (auto ok = s.auth.revoke(token, hint, clientOf(r)); !ok) return errorResponse(ok.error(), r);
  auto res = http::Response::json(200, json::object{});
  return res;
}

// RFC 7662 §2: the caller needs tokens:introspect.
http::Response introspect(Services& s, const http::Request& r) {
  auto who = authenticate(s, r);
  if (!who) return who.error();
  if (auto denied = requirePermissions(*who, {"tokens:introspect"}, r)) return *denied;
  Body body = Body::form(r);
  const std::string token = body.requiredString("token");
  const auto hint = body.optionalString("token_type_hint");
  if (!body.ok()) return validationError(body.errors());
  auto result = s.auth.introspect(token, hint);
  if (!result) return errorResponse(result.error(), r);
  if (!result->active) return http::Response::json(200, json::object{{"active", false}});
  const auto& c = result->claims;
  json::object out{{"active", true}, {"token_type", result->token_type},
                   {"sub", c.sub},   {"username", result->username},
                   {"exp", c.exp},   {"jti", c.jti},
                   {"iss", c.iss}};
  if (c.iat) out["iat"] = *c.iat;
  if (const auto* aud = c.raw.if_contains("aud")) out["aud"] = *aud;
  if (result->token_type == "access_token") {
    std::string scope;
    for (const auto& sc : c.scopes) scope += (scope.empty() ? "" : " ") + sc;
    out["scope"] = scope;
  }
  return http::Response::json(200, out);
}

http::Response sessions(Services& s, const http::Request& r) {
  auto who = authenticateUser(s, r);
  if (!who) return who.error();
  auto list = s.auth.sessions(*who);
  if (!list) return errorResponse(list.error(), r);
  const auto* sid = who->claims.raw.if_contains("sid");
  json::array items;
  for (const auto& session : *list) {
    items.push_back(json::object{
        {"id", session.id},
        {"user_agent", session.user_agent},
        {"ip", session.ip},
        {"created_at", rfc3339(session.created_at)},
        {"last_used_at", rfc3339(session.last_used_at)},
        {"current", sid != nullptr && sid->is_string() && sid->get_string() == session.id}});
  }
  return http::Response::json(200, json::object{{"items", std::move(items)}});
}

http::Response endSession(Services& s, const http::Request& r) {
  auto who = authenticateUser(s, r);
  if (!who) return who.error();
  if (auto ok = s.auth.endSession(*who, r.path_params.at("id"), clientOf(r)); !ok)
    return errorResponse(ok.error(), r);
  return http::Response::empty(204);
}

http::Response changePassword(Services& s, const http::Request& r) {
  auto who = authenticateUser(s, r);
  if (!who) return who.error();
  Body body = Body::json(r);
  const std::string current = body.requiredString("current_password");
  const std::string next = body.requiredString("new_password");
  // API keys end with a password change (one may have been minted with a stolen token) unless
  // the owner keeps them explicitly.
  const bool keep_api_keys = body.optionalBool("keep_api_keys").value_or(false);
  if (!body.ok()) return validationError(body.errors());
  if (auto ok = s.auth.changePassword(*who, current, next, clientOf(r)); !ok)
    return errorResponse(ok.error(), r);
  if (!keep_api_keys) {
    if (auto ok = s.api_keys.revokeAllForUser(who->user->id, who->user->id, clientOf(r),
                                              "password_changed");
        !ok) {
      return errorResponse(ok.error(), r);
    }
  }
  return http::Response::json(200, json::object{{"message", "Password changed"}});
}

}  // namespace

void addAuthRoutes(http::Router& router, Services& s) {
  router.add("POST", "/api/v1/auth/register",
             [&s](http::Request& r) { return registerUser(s, r); });
  router.add("POST", "/api/v1/auth/login", [&s](http::Request& r) { return login(s, r); });
  router.add("POST", "/api/v1/auth/refresh", [&s](http::Request& r) { return refresh(s, r); });
  router.add("POST", "/api/v1/auth/logout", [&s](http::Request& r) { return logout(s, r); });
  router.add("GET", "/api/v1/auth/me", [&s](http::Request& r) { return me(s, r); });
  router.add("POST", "/api/v1/auth/revoke", [&s](http::Request& r) { return revoke(s, r); });
  router.add("POST", "/api/v1/auth/introspect",
             [&s](http::Request& r) { return introspect(s, r); });
  router.add("GET", "/api/v1/auth/sessions", [&s](http::Request& r) { return sessions(s, r); });
  router.add("DELETE", "/api/v1/auth/sessions/{id}",
             [&s](http::Request& r) { return endSession(s, r); });
  router.add("POST", "/api/v1/auth/password",
             [&s](http::Request& r) { return changePassword(s, r); });
}

}  // namespace gatehouse::api
