// /api/v1/auth (API.md, Auth): register, login, refresh, logout, me, revoke, introspect,
// sessions, password.
#include <algorithm>

#include "api/body.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/claims.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;
using http::Lane;

http::Response registerUser(Call& c) {
  const auto& r = c.request;
  if (!c.services.registration_enabled) {
    return errorResponse({auth::Errc::RegistrationDisabled, "REGISTRATION_ENABLED=false", {}, 0},
                         r);
  }
  Body& body = *c.body;
  auth::RegisterInput in{body.requiredString("email"), body.requiredString("username"),
                         body.requiredString("password")};
  if (!body.ok()) return validationError(body.errors());
  auto& passwords = c.services.passwords;
  if (auto problems = passwords.registrationProblems(in); !problems.empty())
    return validationError(problems);
  if (auto refused = c.admit()) return std::move(*refused);
  const auto client = clientOf(r);
  const auto mode = c.services.email_verification;
  // With verification on, the user and its verification mail are written in one transaction.
  std::optional<auth::Error> held;
  auto user = passwords.registerUser(in, client, c.registrationWrite(in.email, held));
  if (!user) return errorResponse(held ? *held : user.error(), r);
  if (mode == config::EmailVerification::Required) {
    // No session until the emailed link proves the address (API.md: login answers 403 until then).
    return http::Response::json(201, userJson(user->user));
  }
  auto pair = c.services.sessions.start(*user, client);
  if (!pair) return errorResponse(pair.error(), r);
  return tokenResponse(201, *pair);
}

// The OAuth2 token endpoint of the password flow (RFC 6749 §4.3), which also takes
// grant_type=refresh_token (§6) as OAuth2 libraries send it: the same rotation as /refresh.
http::Response login(Call& c) {
  const auto& r = c.request;
  Body& body = *c.body;
  const auto grant_type = body.optionalString("grant_type");
  if (grant_type && *grant_type == "refresh_token") {
    const std::string token = body.requiredString("refresh_token");
    if (!body.ok()) return validationError(body.errors());
    if (auto refused = c.admit()) return std::move(*refused);
    auto pair = c.services.sessions.refresh(token, clientOf(r));
    if (!pair) return errorResponse(pair.error(), r);
    return tokenResponse(200, *pair);
  }
  const std::string username = body.requiredString("username");
  const std::string password = body.requiredString("password");
  auto scope = body.optionalString("scope");
  // White space alone (spaces, tabs, new lines) asks for nothing, as an empty scope (absent).
  if (scope && auth::splitScopes(*scope).empty()) scope.reset();
  if (grant_type && *grant_type != "password") {
    body.errors().push_back({{"body", "grant_type"},
                             "string does not match regex \"password|refresh_token\"",
                             "value_error.str.regex"});
  }
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);
  const auto client = clientOf(r);
  auto who = c.services.passwords.login(username, password, scope, client);
  if (!who) return errorResponse(who.error(), r);
  // The password was right; the session waits for the second factor (POST /auth/mfa/verify,
  // or /auth/webauthn/mfa with a passkey).
  if (who->user.mfa_enabled) return mfaRequired(*c.services.mfa, *who, client, r);
  auto pair = c.services.sessions.start(*who, client);
  if (!pair) return errorResponse(pair.error(), r);
  return tokenResponse(200, *pair);
}

http::Response refresh(Call& c) {
  Body& body = *c.body;
  const std::string token = body.requiredString("refresh_token");
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);
  auto pair = c.services.sessions.refresh(token, clientOf(c.request));
  if (!pair) return errorResponse(pair.error(), c.request);
  return tokenResponse(200, *pair);
}

http::Response logout(Call& c) {
  const auto& r = c.request;
  std::optional<std::string> refresh_token;
  if (c.body != nullptr) {  // the body is optional
    refresh_token = c.body->optionalString("refresh_token");
    if (!c.body->ok()) return validationError(c.body->errors());
  }
  if (auto ok = c.services.sessions.logout(*c.who, refresh_token, clientOf(r)); !ok)
    return errorResponse(ok.error(), r);
  return http::Response::json(200, json::object{{"message", "Successfully logged out"}});
}

http::Response me(Call& c) {
  // An OpenID client's token reads the account only as far as the person let it: the profile
  // and email scopes together (else the claims of /oauth2/userinfo are the way).
  if (!c.who->client_id.empty()) {
    const auto& granted = c.who->claims().scopes;
    const auto holds = [&granted](std::string_view s) {
      return std::find(granted.begin(), granted.end(), s) != granted.end();
    };
    if (!holds("profile") || !holds("email"))
      return errorResponse(
          {auth::Errc::Forbidden, "an OpenID client's token without profile and email", {}, 0},
          c.request);
  }
  return http::Response::json(200, userJson(*c.who->user));
}

// RFC 7009 §2.1: form `token`, optional `token_type_hint`; 200 even for unknown tokens.
http::Response revoke(Call& c) {
  Body& body = *c.body;
  const std::string token = body.requiredString("token");
  const auto hint = body.optionalString("token_type_hint");
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);
  if (auto ok = c.services.sessions.revoke(token, hint, clientOf(c.request)); !ok)
    return errorResponse(ok.error(), c.request);
  return http::Response::json(200, json::object{});
}

// RFC 7662 §2.
http::Response introspect(Call& c) {
  Body& body = *c.body;
  const std::string token = body.requiredString("token");
  const auto hint = body.optionalString("token_type_hint");
  if (!body.ok()) return validationError(body.errors());
  auto result = c.services.sessions.introspect(token, hint);
  if (!result) return errorResponse(result.error(), c.request);
  if (!result->active) return http::Response::json(200, json::object{{"active", false}});
  const auto& claims = result->claims;
  json::object out{{"active", true},    {"token_type", result->token_type},
                   {"sub", claims.sub}, {"username", result->username},
                   {"exp", claims.exp}, {"jti", claims.jti},
                   {"iss", claims.iss}};
  if (claims.iat) out["iat"] = *claims.iat;
  if (const auto* aud = claims.raw.if_contains("aud")) out["aud"] = *aud;
  if (result->token_type == "access_token") {
    std::string scope;
    for (const auto& sc : result->scopes) scope += (scope.empty() ? "" : " ") + sc;
    out["scope"] = scope;
  }
  return http::Response::json(200, out);
}

http::Response sessions(Call& c) {
  auto list = c.services.sessions.list(*c.who);
  if (!list) return errorResponse(list.error(), c.request);
  const auto* sid = c.who->claims().raw.if_contains("sid");
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

http::Response endSession(Call& c) {
  const auto& r = c.request;
  if (auto ok = c.services.sessions.end(*c.who, r.path_params.at("id"), clientOf(r)); !ok)
    return errorResponse(ok.error(), r);
  return http::Response::empty(204);
}

http::Response changePassword(Call& c) {
  const auto& r = c.request;
  Body& body = *c.body;
  const std::string current = body.requiredString("current_password");
  const std::string next = body.requiredString("new_password");
  // API keys end with a password change (one may have been minted with a stolen token) unless
  // the owner keeps them explicitly.
  const bool keep_api_keys = body.optionalBool("keep_api_keys").value_or(false);
  const auto code = body.optionalString("code");
  if (!body.ok()) return validationError(body.errors());
  // A too-weak new password is a 422 that costs no attempt (as in the seed).
  if (auto problems = c.services.passwords.newPasswordProblems(next, "new_password");
      !problems.empty())
    return validationError(problems);
  if (auto refused = c.admit()) return std::move(*refused);
  // With a factor, the current password alone does not suffice: a code (judged only once the
  // password verified, so a stolen token can neither test codes nor spend the owner's attempts),
  // or a fresh sign-in that used the factor.
  std::function<auth::Result<void>()> second_factor;
  if (c.who->user->mfa_enabled) {
    if (code) {
      second_factor = [&c, &code, &r]() -> auth::Result<void> {
        auto method = c.services.mfa->check(*c.who->user, *code, clientOf(r));
        if (!method) return tl::unexpected(method.error());
        return {};
      };
    } else if (auto fresh = c.services.token_check.stepUp(*c.who, c.services.step_up_max_age);
               !fresh) {
      return errorResponse(fresh.error(), r);
    }
  }
  if (auto ok = c.services.passwords.changePassword(*c.who, current, next, clientOf(r),
                                                    keep_api_keys, second_factor);
      !ok) {
    return errorResponse(ok.error(), r);
  }
  if (!keep_api_keys) c.services.api_keys.forgetUser(c.who->user->id);
  c.notify(*c.who->user, mail::Notice::PasswordChanged);
  return http::Response::json(200, json::object{{"message", "Password changed"}});
}

bool passwordGrant(const Body& body) {
  const auto grant = body.peekString("grant_type");
  return !grant || *grant != "refresh_token";
}

const RateLimitRule kRefreshLimit{"REFRESH_RATE_LIMIT", "refresh", {LimitKey::RefreshSession}};
}  // namespace

// The handlers the pages run for their forms (handlers.hpp).
namespace handlers {
http::Response changePassword(Call& c) { return api::changePassword(c); }
http::Response endSession(Call& c) { return api::endSession(c); }
}  // namespace handlers

void addAuthRoutes(RouteTable& t) {
  t.add({.method = "POST",
         .path = "/api/v1/auth/register",
         .credential = Credential::None,
         .lane = Lane::Hashing,
         .summary = "Register a user and start a session",
         .tag = "auth",
         .description = "Self-registration (off with REGISTRATION_ENABLED=false). The access "
                        "token carries the new user's permissions. With EMAIL_VERIFICATION "
                        "optional or required a verification link is mailed (429 and no "
                        "account when EMAIL_RATE_LIMIT's registrations to that mailbox are "
                        "spent: the address without +tag, and at Gmail without dots); with "
                        "required the answer "
                        "is the new User and no session.",
         .body = BodyKind::Json,
         .body_schema = "RegisterRequest",
         .replies = {{201, "The new session (or, verification required, the new user)",
                      "Registration"},
                     {403, "Registration is disabled", "ErrorDetail"},
                     {409, "Email already registered / Username already taken", "ErrorDetail"}},
         .limits = {{"REGISTER_RATE_LIMIT", "register", {LimitKey::ClientAddress}}},
         .handler = registerUser});
  t.add(
      {.method = "POST",
       .path = "/api/v1/auth/login",
       .credential = Credential::None,
       .lane = Lane::Hashing,
       .summary = "Log in (OAuth2 password grant; also refresh_token grant)",
       .tag = "auth",
       .description = "`username` is the email (or the username). `scope` narrows the token "
                      "to the intersection with the user's permissions. With "
                      "grant_type=refresh_token and `refresh_token`, rotates like /refresh.",
       .body = BodyKind::Form,
       .body_schema = "LoginForm",
       .replies = {{200, "A new session", "TokenPair"},
                   {401,
                    "Incorrect email or password; or MFA required, with the mfa_token for "
                    "POST /auth/mfa/verify",
                    "LoginRefusal"},
                   {403, "Account is deactivated; Email not verified (EMAIL_VERIFICATION=required)",
                    "ErrorDetail"}},
       .limits = {{"LOGIN_RATE_LIMIT",
                   "login",
                   {LimitKey::ClientAddress, LimitKey::Account, LimitKey::AccountAndAddress},
                   "with the password grant",
                   passwordGrant},
                  {"REFRESH_RATE_LIMIT",
                   "refresh",
                   {LimitKey::RefreshSession},
                   "with grant_type=refresh_token"}},
       .handler = login});
  t.add({.method = "POST",
         .path = "/api/v1/auth/refresh",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Trade a refresh token for a new pair (rotation, reuse detection)",
         .tag = "auth",
         .body = BodyKind::Json,
         .body_schema = "RefreshRequest",
         .replies = {{200, "The rotated pair; the old refresh token stops working", "TokenPair"},
                     {401, "Invalid refresh token / User not found or inactive", "ErrorDetail"},
                     {403, "Email not verified (EMAIL_VERIFICATION=required)", "ErrorDetail"}},
         .limits = {kRefreshLimit},
         .handler = refresh});
  t.add({.method = "POST",
         .path = "/api/v1/auth/logout",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .before_mfa_enrolment = true,
         .summary = "End the session of this access token (and of the given refresh token)",
         .tag = "auth",
         .body = BodyKind::OptionalJson,
         .body_schema = "LogoutRequest",
         .replies = {{200, "Logged out", "Message"}},
         .handler = logout});
  t.add({.method = "GET",
         .path = "/api/v1/auth/me",
         .credential = Credential::TokenOrKey,
         .lane = Lane::Inline,
         .before_mfa_enrolment = true,
         .summary = "The caller's user",
         .tag = "auth",
         .replies = {{200, "The user", "User"}},
         .handler = me});
  t.add({.method = "POST",
         .path = "/api/v1/auth/revoke",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Revoke a token (RFC 7009)",
         .tag = "auth",
         .description = "200 for unknown or invalid tokens too. An access token of the API's "
                        "own or a seed's is revoked until it expires; a refresh token ends its "
                        "whole session. An OpenID Provider token is its client's to revoke, at "
                        "/oauth2/revoke (RFC 7009 §2.1): here it is left as it is.",
         .body = BodyKind::Form,
         .body_schema = "TokenForm",
         .replies = {{200, "Revoked (or nothing to revoke)", "Empty"}},
         // Each revocation of a live token is a kept audit record: unlimited, an account's
         // sessions minting and revoking tokens in a loop grew the log at will (an outside attack).
         .limits = {{"REFRESH_RATE_LIMIT", "revoke", {LimitKey::ClientAddress}}},
         .handler = revoke});
  t.add({.method = "POST",
         .path = "/api/v1/auth/introspect",
         .credential = Credential::TokenOrKey,
         .permissions = {"tokens:introspect"},
         .lane = Lane::Storage,
         .summary = "Introspect a token (RFC 7662)",
         .tag = "auth",
         .body = BodyKind::Form,
         .body_schema = "TokenForm",
         .replies = {{200, "Whether the token is active, and its claims", "Introspection"}},
         .handler = introspect});
  t.add({.method = "GET",
         .path = "/api/v1/auth/sessions",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .summary = "The caller's live sessions, newest first",
         .tag = "sessions",
         .replies = {{200, "Sessions", "SessionList"}},
         .handler = sessions});
  t.add({.method = "DELETE",
         .path = "/api/v1/auth/sessions/{id}",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .summary = "End one of the caller's sessions (every token of it)",
         .tag = "sessions",
         .replies = {{204, "Ended", ""}, {404, "Session not found", "ErrorDetail"}},
         .handler = endSession});
  t.add({.method = "POST",
         .path = "/api/v1/auth/password",
         .credential = Credential::UserToken,
         .lane = Lane::Hashing,
         .summary = "Change the caller's password",
         .tag = "auth",
         .description = "Ends every session; revokes the user's API keys unless keep_api_keys. A "
                        "user with a second factor also gives `code` (or presents a fresh token "
                        "whose amr holds otp).",
         .body = BodyKind::Json,
         .body_schema = "PasswordChange",
         .replies = {{200, "Changed", "Message"},
                     {400, "Incorrect password", "ErrorDetail"},
                     {401, "Invalid code / Step-up authentication required", "ErrorDetail"}},
         .limits = {{"LOGIN_RATE_LIMIT", "pwchange", {LimitKey::ClientAddress, LimitKey::Session}}},
         .handler = changePassword});
}

}  // namespace gatehouse::api
