// Passkeys (WebAuthn; docs/passkeys.md): each ceremony's options and its verification, for a
// frontend. Registration makes a passkey a second factor (step-up to start it, the factor's proof
// to finish it); sign-in is usernameless; the login's second step and step-up reauthentication
// take one too.

#include "api/body.hpp"
#include "api/handlers.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/claims.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"
#include "webauthn/passkey_service.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;
using http::Lane;

constexpr std::size_t kMaxName = 64;
constexpr std::size_t kMaxCredentialJson = 64 * 1024;

http::Response options(const auth::Result<json::object>& made, const http::Request& request) {
  if (!made) return errorResponse(made.error(), request);
  return noStore(http::Response::json(200, json::object{{"publicKey", *made}}));
}

// 503 while passkeys are not configured (the composition root always builds them; kept for a
// server assembled without), then the body's own problems: an options route takes nothing,
// an answering route its `allowed` members.
std::optional<http::Response> refusedStart(Call& c,
                                           std::initializer_list<std::string_view> allowed) {
  if (c.services.passkeys == nullptr)
    return errorResponse({auth::Errc::Unavailable,
                          "passkeys are off: no host name to be their RP ID (the start said why; "
                          "GATEHOUSE_PUBLIC_URL or WEBAUTHN_RP_ID)",
                          {},
                          0},
                         c.request);
  if (c.body == nullptr) return std::nullopt;
  c.body->forbidOthers(allowed);
  if (!c.body->ok()) return validationError(c.body->errors());
  return std::nullopt;
}

// The `credential` member (credential.toJSON()), or the 422 already recorded in the body.
std::optional<json::value> credentialOf(Call& c) {
  return c.body->requiredObject("credential", kMaxCredentialJson);
}

// A proven sign-in becomes a session (TokenPair).
http::Response session(Call& c, const auth::Result<auth::SignedIn>& who,
                       const auth::ClientInfo& client) {
  if (!who) return errorResponse(who.error(), c.request);
  auto pair = c.services.sessions.start(*who, client);
  if (!pair) return errorResponse(pair.error(), c.request);
  return tokenResponse(200, *pair);
}

// A passkey's name: 1 to 64 bytes of UTF-8 text without control, invisible or
// direction-changing characters (it is shown on pages and in every JSON list of factors).
void checkName(Body& body, const std::optional<std::string>& name) {
  if (!name) return;
  if (name->empty() || name->size() > kMaxName) {
    body.errors().push_back({{"body", "name"},
                             "ensure this value has 1 to 64 characters",
                             "value_error.any_str.length"});
  } else if (!core::isDisplayText(*name)) {
    body.errors().push_back({{"body", "name"},
                             "text that shows, without control or invisible characters",
                             "value_error.str.regex"});
  }
}

std::string sidOf(const Call& c) { return std::string(auth::sessionOf(c.who->claims())); }

http::Response registrationOptions(Call& c) {
  if (auto no = refusedStart(c, {})) return std::move(*no);
  if (auto refused = c.admit()) return std::move(*refused);
  return options(c.services.passkeys->registrationOptions(*c.who->user, sidOf(c)), c.request);
}

http::Response registerPasskey(Call& c) {
  Body& body = *c.body;
  auto name = body.optionalString("name");
  // The page's field left blank, or holding only spaces (found too late otherwise: after the
  // authenticator made the credential; a review): the default name.
  if (name && (name->empty() || (name->size() <= kMaxName &&
                                 core::displayTextProblem(*name) == core::kShowsNothing)))
    name.reset();
  checkName(body, name);
  auto credential = credentialOf(c);
  if (auto no = refusedStart(c, {"name", "credential"})) return std::move(*no);
  if (auto refused = c.admit()) return std::move(*refused);
  auto made = c.services.passkeys->registerPasskey(*c.who->user, sidOf(c), name.value_or(""),
                                                   *credential, clientOf(c.request));
  if (!made) return errorResponse(withStepUpAge(c, made.error()), c.request);
  // A sign-out, an ending of this session or a password change racing the registration must not
  // leave a passkey (a way in on its own) planted through the session it ended: checked again now
  // that it is stored, as an API key is (the ending writes first, then whoever reads after sees
  // it).
  if (auto valid = c.services.token_check.stillValid(*c.who); !valid) {
    auto undone =
        c.services.passkeys->remove(*c.who->user, made->passkey.factor.id, clientOf(c.request));
    // Already gone (its user deleted, a reset of the factors) counts as undone.
    if (!undone && undone.error().code != auth::Errc::FactorNotFound) {
      // It stays: the owner must hear of it.
      spdlog::error("request_id={} passkey {} of a session that ended could not be removed: {}",
                    c.request.request_id, made->passkey.factor.id, undone.error().detail);
      c.notify(*c.who->user, mail::Notice::PasskeyAdded);
    }
    return errorResponse(valid.error(), c.request);
  }
  // A passkey signs in on its own: the owner hears of it (Call::notify).
  c.notify(*c.who->user, mail::Notice::PasskeyAdded);
  json::object out = webauthn::passkeyJson(made->passkey);
  if (made->recovery_codes) {
    json::array codes;
    for (const auto& code : *made->recovery_codes) codes.emplace_back(code);
    out["recovery_codes"] = std::move(codes);
  }
  return noStore(http::Response::json(201, std::move(out)));
}

http::Response list(Call& c) {
  if (auto no = refusedStart(c, {})) return std::move(*no);
  auto mine = c.services.passkeys->list(c.who->user->id);
  if (!mine) return errorResponse(mine.error(), c.request);
  json::array items;
  for (const auto& pk : *mine) items.push_back(webauthn::passkeyJson(pk));
  return http::Response::json(200, json::object{{"items", std::move(items)}});
}

http::Response rename(Call& c) {
  auto id = pathId(c.request);
  if (!id) return id.error();
  std::string name = c.body->requiredString("name");
  checkName(*c.body, name);
  if (auto no = refusedStart(c, {"name"})) return std::move(*no);
  if (auto refused = c.admit()) return std::move(*refused);
  auto done = c.services.passkeys->rename(*c.who->user, *id, std::move(name), clientOf(c.request));
  if (!done) return errorResponse(done.error(), c.request);
  return http::Response::json(200, webauthn::passkeyJson(*done));
}

http::Response remove(Call& c) {
  auto id = pathId(c.request);
  if (!id) return id.error();
  if (auto no = refusedStart(c, {})) return std::move(*no);
  if (auto ok = c.services.passkeys->remove(*c.who->user, *id, clientOf(c.request)); !ok)
    return errorResponse(ok.error(), c.request);
  c.notify(*c.who->user, mail::Notice::FactorRemoved);
  return http::Response::empty(204);
}

http::Response loginOptions(Call& c) {
  if (auto no = refusedStart(c, {})) return std::move(*no);
  if (auto refused = c.admit()) return std::move(*refused);
  return options(c.services.passkeys->loginOptions(), c.request);
}

http::Response login(Call& c) {
  auto credential = credentialOf(c);
  if (auto no = refusedStart(c, {"credential"})) return std::move(*no);
  if (auto refused = c.admit()) return std::move(*refused);
  const auto client = clientOf(c.request);
  return session(c, c.services.passkeys->login(*credential, client), client);
}

http::Response secondFactorOptions(Call& c) {
  const std::string token = c.body->requiredString("mfa_token");
  if (auto no = refusedStart(c, {"mfa_token"})) return std::move(*no);
  // Not limited: it needs a live mfa_token (a right password), stores nothing and spends nothing;
  // the answer it leads to counts against MFA_RATE_LIMIT per account and address.
  return options(c.services.passkeys->secondFactorOptions(token, clientOf(c.request)), c.request);
}

http::Response secondFactor(Call& c) {
  const std::string token = c.body->requiredString("mfa_token");
  auto credential = credentialOf(c);
  if (auto no = refusedStart(c, {"mfa_token", "credential"})) return std::move(*no);
  // MfaAccountAndAddress: counted by the service.
  if (auto refused = c.admit()) return std::move(*refused);
  const auto client = clientOf(c.request);
  return session(c, c.services.passkeys->secondFactor(token, *credential, client), client);
}

http::Response reauthenticationOptions(Call& c) {
  if (auto no = refusedStart(c, {})) return std::move(*no);
  return options(c.services.passkeys->reauthenticationOptions(*c.who->user, sidOf(c)), c.request);
}

http::Response reauthenticate(Call& c) {
  auto credential = credentialOf(c);
  if (auto no = refusedStart(c, {"credential"})) return std::move(*no);
  if (auto refused = c.admit()) return std::move(*refused);
  const auto client = clientOf(c.request);
  auto answer = session(
      c, c.services.passkeys->reauthenticate(*c.who, sidOf(c), *credential, client), client);
  if (answer.status != 200) return answer;
  // The presenting session ends: the new one replaces it.
  if (auto ended = c.services.sessions.logout(*c.who, std::nullopt, client); !ended)
    return errorResponse(ended.error(), c.request);
  return answer;
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
         .replies = {{200, "The options", "PasskeyOptions"},
                     {409, "Factor limit reached", "ErrorDetail"}},
         .limits = {{"WEBAUTHN_RATE_LIMIT", "passkey_register", {LimitKey::Session}}},
         .handler = registrationOptions});
  t.add({.method = "POST",
         .path = "/api/v1/auth/webauthn/register",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         // Options fetched while the user had no factor do not let a session that proves none
         // answer them after the user turned one on.
         .factor_proof = true,
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
         .limits = {{"WEBAUTHN_RATE_LIMIT", "passkey_register", {LimitKey::Session}},
                    kAccountChangeLimit},
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
         .limits = {kAccountChangeLimit},
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
                        "tokens carry auth_time and amr [\"hwk\"] (a device-bound passkey whose "
                        "attestation chained to WEBAUTHN_TRUST_STORE) or [\"swk\"] (any other).",
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
         .limits = {{"MFA_RATE_LIMIT", "mfa-passkey", {LimitKey::MfaAccountAndAddress}}},
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
