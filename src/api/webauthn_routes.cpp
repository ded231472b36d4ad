// Passkeys (WebAuthn; docs/passkeys.md): each ceremony's options and its verification, for a
// frontend. Registration makes a passkey a second factor (step-up to start it); sign-in is
// usernameless; the login's second step and step-up reauthentication take one too.
#include "api/body.hpp"
#include "api/handlers.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/claims.hpp"
#include "webauthn/passkey_service.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;
using http::Lane;

constexpr std::size_t kMaxName = 64;
constexpr std::size_t kMaxCredentialJson = 64 * 1024;

http::Response noStore(http::Response r) {
  r.set("Cache-Control", "no-store");
  r.set("Pragma", "no-cache");
  return r;
}

http::Response options(const auth::Result<json::object>& made, const http::Request& request) {
  if (!made) return errorResponse(made.error(), request);
  return noStore(http::Response::json(200, json::object{{"publicKey", *made}}));
}

// 503 while passkeys are not configured (the composition root always builds them; kept for
// a server assembled without).
std::optional<http::Response> unavailable(const Call& c) {
  if (c.services.passkeys != nullptr) return std::nullopt;
  return errorResponse({auth::Errc::Unavailable, "passkeys not configured", {}, 0}, c.request);
}

std::optional<std::string> optionalName(Body& body) {
  auto name = body.optionalString("name");
  if (name && name->size() > kMaxName) {
    body.errors().push_back({{"body", "name"},
                             "ensure this value has at most 64 characters",
                             "value_error.any_str.max_length"});
  }
  return name;
}

std::string sidOf(const Call& c) { return std::string(auth::sessionOf(c.who->claims)); }

http::Response registrationOptions(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  if (c.body != nullptr) {
    c.body->forbidOthers({});
    if (!c.body->ok()) return validationError(c.body->errors());
  }
  return options(c.services.passkeys->registrationOptions(*c.who->user, sidOf(c)), c.request);
}

http::Response registerPasskey(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  Body& body = *c.body;
  body.forbidOthers({"name", "credential"});
  auto name = optionalName(body);
  auto credential = body.requiredObject("credential", kMaxCredentialJson);
  if (!body.ok()) return validationError(body.errors());
  auto made = c.services.passkeys->registerPasskey(*c.who->user, sidOf(c), name.value_or(""),
                                                   *credential, clientOf(c.request));
  if (!made) return errorResponse(made.error(), c.request);
  json::object out = webauthn::passkeyJson(made->passkey);
  if (made->recovery_codes) {
    json::array codes;
    for (const auto& code : *made->recovery_codes) codes.emplace_back(code);
    out["recovery_codes"] = std::move(codes);
  }
  return noStore(http::Response::json(201, std::move(out)));
}

http::Response list(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  auto mine = c.services.passkeys->list(c.who->user->id);
  if (!mine) return errorResponse(mine.error(), c.request);
  json::array items;
  for (const auto& pk : *mine) items.push_back(webauthn::passkeyJson(pk));
  return http::Response::json(200, json::object{{"items", std::move(items)}});
}

http::Response rename(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  auto id = pathId(c.request);
  if (!id) return id.error();
  Body& body = *c.body;
  body.forbidOthers({"name"});
  std::string name = body.requiredString("name");
  if (name.size() > kMaxName) {
    body.errors().push_back({{"body", "name"},
                             "ensure this value has at most 64 characters",
                             "value_error.any_str.max_length"});
  }
  if (!body.ok()) return validationError(body.errors());
  auto done = c.services.passkeys->rename(*c.who->user, *id, std::move(name), clientOf(c.request));
  if (!done) return errorResponse(done.error(), c.request);
  return http::Response::json(200, webauthn::passkeyJson(*done));
}

http::Response remove(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  auto id = pathId(c.request);
  if (!id) return id.error();
  if (auto ok = c.services.passkeys->remove(*c.who->user, *id, clientOf(c.request)); !ok)
    return errorResponse(ok.error(), c.request);
  return http::Response::empty(204);
}

http::Response loginOptions(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  if (c.body != nullptr) {
    c.body->forbidOthers({});
    if (!c.body->ok()) return validationError(c.body->errors());
  }
  if (auto refused = c.admit()) return std::move(*refused);
  return options(c.services.passkeys->loginOptions(), c.request);
}

http::Response login(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  Body& body = *c.body;
  body.forbidOthers({"credential"});
  auto credential = body.requiredObject("credential", kMaxCredentialJson);
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);
  const auto client = clientOf(c.request);
  auto who = c.services.passkeys->login(*credential, client);
  if (!who) return errorResponse(who.error(), c.request);
  auto pair = c.services.sessions.start(*who, client);
  if (!pair) return errorResponse(pair.error(), c.request);
  return tokenResponse(200, *pair);
}

http::Response secondFactorOptions(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  Body& body = *c.body;
  body.forbidOthers({"mfa_token"});
  const std::string token = body.requiredString("mfa_token");
  if (!body.ok()) return validationError(body.errors());
  // Not limited: it needs a live mfa_token (a right password), stores nothing and spends nothing;
  // the answer it leads to counts against MFA_RATE_LIMIT per account.
  return options(c.services.passkeys->secondFactorOptions(token, clientOf(c.request)), c.request);
}

http::Response secondFactor(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  Body& body = *c.body;
  body.forbidOthers({"mfa_token", "credential"});
  const std::string token = body.requiredString("mfa_token");
  auto credential = body.requiredObject("credential", kMaxCredentialJson);
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);  // MfaAccount: counted by the service
  const auto client = clientOf(c.request);
  auto who = c.services.passkeys->secondFactor(token, *credential, client);
  if (!who) return errorResponse(who.error(), c.request);
  auto pair = c.services.sessions.start(*who, client);
  if (!pair) return errorResponse(pair.error(), c.request);
  return tokenResponse(200, *pair);
}

http::Response reauthenticationOptions(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  if (c.body != nullptr) {
    c.body->forbidOthers({});
    if (!c.body->ok()) return validationError(c.body->errors());
  }
  return options(c.services.passkeys->reauthenticationOptions(*c.who->user, sidOf(c)), c.request);
}

http::Response reauthenticate(Call& c) {
  if (auto no = unavailable(c)) return std::move(*no);
  Body& body = *c.body;
  body.forbidOthers({"credential"});
  auto credential = body.requiredObject("credential", kMaxCredentialJson);
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);
  const auto client = clientOf(c.request);
  auto who = c.services.passkeys->reauthenticate(*c.who, sidOf(c), *credential, client);
  if (!who) return errorResponse(who.error(), c.request);
  auto pair = c.services.sessions.start(*who, client);
  if (!pair) return errorResponse(pair.error(), c.request);
  if (auto ended = c.services.sessions.logout(*c.who, std::nullopt, client); !ended)
    return errorResponse(ended.error(), c.request);
  return tokenResponse(200, *pair);
}

}  // namespace

// The handlers the pages run for their forms (handlers.hpp).
namespace handlers {
http::Response passkeyOptions(Call& c) { return api::registrationOptions(c); }
http::Response passkeyRegister(Call& c) { return api::registerPasskey(c); }
http::Response passkeyRename(Call& c) { return api::rename(c); }
http::Response passkeyRemove(Call& c) { return api::remove(c); }
}  // namespace handlers

void addWebauthnRoutes(RouteTable& t) {
  const std::string tag = "passkeys";
  t.add({.method = "POST",
         .path = "/api/v1/auth/webauthn/register/options",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .step_up = true,
         .before_mfa_enrolment = true,
         .summary = "Start registering a passkey: the creation options",
         .tag = tag,
         .description = "PublicKeyCredentialCreationOptionsJSON (WebAuthn Level 3) under "
                        "`publicKey`: pass it to navigator.credentials.create. The challenge is "
                        "single use, for this user and session, five minutes.",
         .body = BodyKind::OptionalJson,
         .body_schema = "EmptyRequest",
         .replies = {{200, "The options", "PasskeyOptions"}},
         .handler = registrationOptions});
  t.add({.method = "POST",
         .path = "/api/v1/auth/webauthn/register",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .before_mfa_enrolment = true,
         .summary = "Finish registering a passkey: it becomes a second factor",
         .tag = tag,
         .description = "The browser's credential.toJSON() under `credential`. The user's first "
                        "factor also returns ten recovery codes, shown once.",
         .body = BodyKind::Json,
         .body_schema = "PasskeyRegisterRequest",
         .replies = {{201, "The passkey (and recovery codes with the first factor)",
                      "PasskeyRegistered"},
                     {400, "Invalid passkey", "ErrorDetail"},
                     {409, "Factor limit reached", "ErrorDetail"}},
         .handler = registerPasskey});
  t.add({.method = "GET",
         .path = "/api/v1/auth/webauthn/credentials",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .before_mfa_enrolment = true,
         .summary = "The caller's passkeys",
         .tag = tag,
         .replies = {{200, "Passkeys", "PasskeyList"}},
         .handler = list});
  t.add({.method = "PATCH",
         .path = "/api/v1/auth/webauthn/credentials/{id}",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .before_mfa_enrolment = true,
         .summary = "Rename one of the caller's passkeys",
         .tag = tag,
         .body = BodyKind::Json,
         .body_schema = "PasskeyRenameRequest",
         .replies = {{200, "Renamed", "Passkey"}, {404, "Factor not found", "ErrorDetail"}},
         .handler = rename});
  t.add({.method = "DELETE",
         .path = "/api/v1/auth/webauthn/credentials/{id}",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .step_up = true,
         .before_mfa_enrolment = true,
         .summary = "Remove one of the caller's passkeys",
         .tag = tag,
         .replies = {{204, "Removed", ""}, {404, "Factor not found", "ErrorDetail"}},
         .handler = remove});
  t.add({.method = "POST",
         .path = "/api/v1/auth/webauthn/login/options",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Start a passwordless sign-in: the request options",
         .tag = tag,
         .description = "Usernameless: no allowCredentials, so the browser offers the passkeys it "
                        "holds for this site; user verification required. Nothing is stored "
                        "until the answer comes.",
         .body = BodyKind::OptionalJson,
         .body_schema = "EmptyRequest",
         .replies = {{200, "The options", "PasskeyOptions"}},
         .limits = {{"LOGIN_RATE_LIMIT", "passkey_options", {LimitKey::ClientAddress}}},
         .handler = loginOptions});
  t.add({.method = "POST",
         .path = "/api/v1/auth/webauthn/login",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Sign in with a passkey",
         .tag = tag,
         .description = "The browser's credential.toJSON() from navigator.credentials.get. The "
                        "tokens carry amr [\"hwk\"] (a device-bound passkey) or [\"swk\"] (a "
                        "synced one) and auth_time.",
         .body = BodyKind::Json,
         .body_schema = "PasskeyCredentialRequest",
         .replies = {{200, "A new session", "TokenPair"},
                     {401, "Invalid passkey", "ErrorDetail"},
                     {403, "Account is deactivated / Email not verified", "ErrorDetail"}},
         .limits = {{"LOGIN_RATE_LIMIT", "passkey_login", {LimitKey::ClientAddress}}},
         .handler = login});
  t.add({.method = "POST",
         .path = "/api/v1/auth/webauthn/mfa/options",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "The second step of a sign-in with a passkey: the request options",
         .tag = tag,
         .description = "For the mfa_token of POST /auth/login's 401 `MFA required` (whose "
                        "methods hold \"webauthn\"): that user's passkeys. Spends nothing.",
         .body = BodyKind::Json,
         .body_schema = "PasskeyMfaOptionsRequest",
         .replies = {{200, "The options", "PasskeyOptions"},
                     {401, "Invalid code (an unknown, used or expired mfa_token)", "ErrorDetail"}},
         .handler = secondFactorOptions});
  t.add({.method = "POST",
         .path = "/api/v1/auth/webauthn/mfa",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "The second step of a sign-in: the mfa_token and a passkey",
         .tag = tag,
         .description = "The tokens carry amr [\"pwd\", \"hwk\"|\"swk\"] and auth_time.",
         .body = BodyKind::Json,
         .body_schema = "PasskeyMfaRequest",
         .replies = {{200, "A new session", "TokenPair"},
                     {401, "Invalid code (also a refused passkey)", "ErrorDetail"}},
         .limits = {{"MFA_RATE_LIMIT", "mfa", {LimitKey::MfaAccount}}},
         .handler = secondFactor});
  t.add({.method = "POST",
         .path = "/api/v1/auth/webauthn/reauthenticate/options",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .before_mfa_enrolment = true,
         .summary = "Prove it is still you with a passkey: the request options",
         .tag = tag,
         .body = BodyKind::OptionalJson,
         .body_schema = "EmptyRequest",
         .replies = {{200, "The options (the caller's passkeys)", "PasskeyOptions"},
                     {404, "Factor not found (no passkey)", "ErrorDetail"}},
         .handler = reauthenticationOptions});
  t.add({.method = "POST",
         .path = "/api/v1/auth/webauthn/reauthenticate",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .before_mfa_enrolment = true,
         .summary = "Prove it is still you with a passkey: a new session with a fresh auth_time",
         .tag = tag,
         .description = "amr holds hwk or swk, which step-up accepts as the second factor. The "
                        "presenting session ends.",
         .body = BodyKind::Json,
         .body_schema = "PasskeyCredentialRequest",
         .replies = {{200, "A new session", "TokenPair"}, {401, "Invalid passkey", "ErrorDetail"}},
         .limits = {{"LOGIN_RATE_LIMIT",
                     "reauthenticate",
                     {LimitKey::ClientAddress, LimitKey::Session}}},
         .handler = reauthenticate});
}

}  // namespace gatehouse::api
