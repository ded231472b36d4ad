// The second factor (API.md, Second factor): enrolment, confirmation, listing and removal of TOTP
// factors, recovery codes, the login's second step, reauthentication and an administrator's
// reset. Step-up (RFC 9470) is declared per route and checked by the middleware.
#include "api/body.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/claims.hpp"
#include "core/utf8.hpp"
#include "mfa/mfa_service.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;
using http::Lane;

constexpr std::size_t kMaxFactorName = 64;

json::array codesJson(const std::vector<std::string>& codes) {
  json::array out;
  for (const auto& c : codes) out.emplace_back(c);
  return out;
}

http::Response verify(Call& c) {
  Body& body = *c.body;
  body.forbidOthers({"mfa_token", "code"});
  const std::string token = body.requiredString("mfa_token");
  const std::string code = body.requiredString("code");
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);  // MfaAccount: counted by the service
  const auto client = clientOf(c.request);
  auto who = c.services.mfa->verify(token, code, client);
  if (!who) return errorResponse(who.error(), c.request);
  auto pair = c.services.sessions.start(*who, client);
  if (!pair) return errorResponse(pair.error(), c.request);
  return tokenResponse(200, *pair);
}

http::Response list(Call& c) {
  auto factors = c.services.mfa->list(c.who->user->id);
  if (!factors) return errorResponse(factors.error(), c.request);
  json::array items;
  for (const auto& f : factors->confirmed) {
    items.push_back(json::object{
        {"id", f.id},
        {"type", f.type},
        {"name", f.name},
        {"created_at", rfc3339(f.created_at)},
        {"last_used_at", f.last_used_at ? json::value(rfc3339(*f.last_used_at)) : nullptr}});
  }
  return http::Response::json(200,
                              json::object{{"items", std::move(items)},
                                           {"recovery_codes_left", factors->recovery_codes_left}});
}

http::Response enrol(Call& c) {
  std::string name;
  if (c.body != nullptr) {
    c.body->forbidOthers({"name"});
    name = c.body->optionalString("name").value_or("");
    if (name.size() > kMaxFactorName) {
      c.body->errors().push_back({{"body", "name"},
                                  "ensure this value has at most 64 characters",
                                  "value_error.any_str.max_length"});
    } else if (!core::isDisplayText(name)) {  // shown on the account page and in every list
      c.body->errors().push_back({{"body", "name"},
                                  "text that shows, without control or invisible characters",
                                  "value_error.str.regex"});
    }
    if (!c.body->ok()) return validationError(c.body->errors());
  }
  if (auto refused = c.admit()) return std::move(*refused);
  auto made = c.services.mfa->enrol(*c.who->user, std::move(name), clientOf(c.request));
  if (!made) return errorResponse(made.error(), c.request);
  return noStore(http::Response::json(201, json::object{{"id", made->id},
                                                        {"secret", made->secret},
                                                        {"otpauth_uri", made->otpauth_uri},
                                                        {"qr_svg", made->qr_svg}}));
}

http::Response confirm(Call& c) {
  auto id = pathId(c.request);
  if (!id) return id.error();
  Body& body = *c.body;
  body.forbidOthers({"code"});
  const std::string code = body.requiredString("code");
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);  // MFA_RATE_LIMIT, before the code
  auto codes = c.services.mfa->confirm(*c.who->user, *id, code, clientOf(c.request));
  if (!codes) return errorResponse(withStepUpAge(c, codes.error()), c.request);
  c.notify(*c.who->user, mail::Notice::TotpAdded);
  if (!*codes) return http::Response::json(200, json::object{});
  return noStore(http::Response::json(200, json::object{{"recovery_codes", codesJson(**codes)}}));
}

http::Response remove(Call& c) {
  auto id = pathId(c.request);
  if (!id) return id.error();
  auto confirmed = c.services.mfa->remove(*c.who->user, *id, clientOf(c.request));
  if (!confirmed) return errorResponse(confirmed.error(), c.request);
  // An unfinished enrolment was no way in: its removal is nobody's news (and must not spend the
  // notice's budget, which would silence the removal of a real one).
  if (*confirmed) c.notify(*c.who->user, mail::Notice::FactorRemoved);
  return http::Response::empty(204);
}

http::Response recoveryCodes(Call& c) {
  if (auto refused = c.admit()) return std::move(*refused);
  auto codes = c.services.mfa->newRecoveryCodes(*c.who->user, clientOf(c.request));
  if (!codes) return errorResponse(codes.error(), c.request);
  c.notify(*c.who->user, mail::Notice::RecoveryCodesReplaced);
  return noStore(http::Response::json(200, json::object{{"recovery_codes", codesJson(*codes)}}));
}

// A fresh proof for step-up: the password again, and a code when the user gives one. A new
// session replaces the presenting one.
http::Response reauthenticate(Call& c) {
  Body& body = *c.body;
  const std::string password = body.requiredString("password");
  const auto code = body.optionalString("code");
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);
  const auto client = clientOf(c.request);
  auto who = c.services.passwords.reauthenticate(*c.who, password, client);
  if (!who) return errorResponse(who.error(), c.request);
  if (code) {
    auto method = c.services.mfa->check(who->user, *code, client);
    if (!method) return errorResponse(method.error(), c.request);
    who->grant.amr.push_back(*method);
  }
  auto pair = c.services.sessions.start(*who, client);
  if (!pair) return errorResponse(pair.error(), c.request);
  if (auto ended = c.services.sessions.logout(*c.who, std::nullopt, client); !ended)
    return errorResponse(ended.error(), c.request);
  return tokenResponse(200, *pair);
}

http::Response resetUser(Call& c) {
  if (auto refused = c.admit()) return std::move(*refused);
  auto id = pathId(c.request);
  if (!id) return id.error();
  const auto client = clientOf(c.request);
  // One's own factors are removed one by one, each a step-up of its own (a review: the reset
  // removed all of one's own at once, and reset one's own second-factor limit).
  if (auto refused = refusedOnOwnAccount(c, *id, "the factors")) return std::move(*refused);
  // Nobody acts above their own rights: the target's role must be within the caller's; a
  // refusal is counted and audited as the other administrators' routes' are (an outside attack
  // found this one neither).
  auto target = c.services.users.target(*id, actorOf(c), client);
  if (!target) return errorResponse(target.error(), c.request);
  // Only while the target still has the role judged (a review: a promotion racing the request
  // let a moderator strip an administrator's factors).
  auto removed = c.services.mfa->reset(*id, c.who->user->id, client, target->role);
  if (!removed) return errorResponse(removed.error(), c.request);
  if (*removed > 0) c.notify(*target, mail::Notice::FactorRemoved);
  return http::Response::empty(204);
}

}  // namespace

// The handlers the pages run for their forms (handlers.hpp).
namespace handlers {
http::Response enrol(Call& c) { return api::enrol(c); }
http::Response confirm(Call& c) { return api::confirm(c); }
http::Response removeFactor(Call& c) { return api::remove(c); }
http::Response recoveryCodes(Call& c) { return api::recoveryCodes(c); }
http::Response resetUserMfa(Call& c) { return api::resetUser(c); }
}  // namespace handlers

void addMfaRoutes(RouteTable& t) {
  t.add({.method = "POST",
         .path = "/api/v1/auth/mfa/verify",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "The second step of a sign-in: the mfa_token and a TOTP or recovery code",
         .tag = "second factor",
         .description = "The mfa_token comes from POST /auth/login's 401 `MFA required`; single "
                        "use, five minutes, for the client that logged in. The tokens carry "
                        "amr [\"pwd\", \"otp\"] (or \"rc\") and auth_time.",
         .body = BodyKind::Json,
         .body_schema = "MfaVerifyRequest",
         .replies = {{200, "A new session", "TokenPair"},
                     {401,
                      "Invalid code (also a used or replayed code, or a used, expired or "
                      "other client's mfa_token)",
                      "ErrorDetail"}},
         .limits = {{"MFA_RATE_LIMIT", "mfa", {LimitKey::MfaAccount}}},
         .handler = verify});
  t.add({.method = "GET",
         .path = "/api/v1/auth/mfa",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .before_mfa_enrolment = true,
         .summary = "The caller's confirmed factors and recovery codes left",
         .tag = "second factor",
         .replies = {{200, "Factors", "MfaFactorList"}},
         .handler = list});
  t.add({.method = "POST",
         .path = "/api/v1/auth/mfa/totp",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .step_up = true,
         .before_mfa_enrolment = true,
         .summary = "Start enrolling a TOTP factor (active once confirmed)",
         .tag = "second factor",
         .description = "The secret is shown only now, as text, an otpauth:// URI and a QR code.",
         .body = BodyKind::OptionalJson,
         .body_schema = "MfaEnrolRequest",
         .replies = {{201, "The new factor's secret", "MfaEnrolment"},
                     {409, "Factor limit reached", "ErrorDetail"}},
         .limits = {kAccountChangeLimit},
         .handler = enrol});
  t.add(
      {.method = "POST",
       .path = "/api/v1/auth/mfa/totp/{id}/confirm",
       .credential = Credential::UserToken,
       .lane = Lane::Storage,
       // An enrolment begun while the user had no factor (unconfirmed ones live a day) is not
       // finished by a session that proves none after the user turned one on.
       .factor_proof = true,
       .before_mfa_enrolment = true,
       .summary = "Activate a TOTP factor with its first code",
       .tag = "second factor",
       .description = "The user's first factor also returns ten recovery codes, shown once.",
       .body = BodyKind::Json,
       .body_schema = "MfaCodeRequest",
       .replies = {{200, "Active; recovery codes with the first factor", "RecoveryCodes"},
                   {400, "Invalid code", "ErrorDetail"},
                   {404, "Factor not found", "ErrorDetail"},
                   {409, "Factor limit reached (filled since the enrolment began)", "ErrorDetail"}},
       // Found by an outside attack: uncounted, one token wrote 700 mfa.confirm_failed records a
       // second, and a stale token (which passes factor_proof while the user has no factor)
       // could guess at the owner's unfinished enrolment for its recovery codes.
       .limits = {{"MFA_RATE_LIMIT", "mfa-confirm", {LimitKey::User}}},
       .handler = confirm});
  t.add({.method = "DELETE",
         .path = "/api/v1/auth/mfa/{id}",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .step_up = true,
         .before_mfa_enrolment = true,
         .summary = "Remove one of the caller's factors",
         .tag = "second factor",
         .replies = {{204, "Removed", ""}, {404, "Factor not found", "ErrorDetail"}},
         .handler = remove});
  t.add({.method = "POST",
         .path = "/api/v1/auth/mfa/recovery-codes",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .step_up = true,
         .summary = "Ten new recovery codes; the old ones stop working",
         .tag = "second factor",
         .replies = {{200, "The codes, shown once", "RecoveryCodes"},
                     {404, "Factor not found (no factor to recover)", "ErrorDetail"}},
         .limits = {kAccountChangeLimit},
         .handler = recoveryCodes});
  t.add({.method = "POST",
         .path = "/api/v1/auth/reauthenticate",
         .credential = Credential::UserToken,
         .lane = Lane::Hashing,
         .before_mfa_enrolment = true,
         .summary = "Prove it is still you: a new session with a fresh auth_time",
         .tag = "second factor",
         .description = "The password, and a TOTP or recovery code when given (then amr holds "
                        "otp or rc). The presenting session ends.",
         .body = BodyKind::Json,
         .body_schema = "ReauthenticateRequest",
         .replies = {{200, "A new session", "TokenPair"},
                     {401, "Incorrect password / Invalid code", "ErrorDetail"}},
         .limits = {{"LOGIN_RATE_LIMIT",
                     "reauthenticate",
                     {LimitKey::ClientAddress, LimitKey::Session}}},
         .handler = reauthenticate});
  t.add({.method = "DELETE",
         .path = "/api/v1/users/{id}/mfa",
         .credential = Credential::UserToken,
         .permissions = {"users:write"},
         .lane = Lane::Storage,
         .step_up = true,
         .summary = "Remove every factor and recovery code of a user (an administrator's reset)",
         .tag = "users",
         .replies = {{204, "Reset", ""},
                     {403, "The user's role holds permissions the caller lacks", "ErrorDetail"},
                     {404, "User not found", "ErrorDetail"}},
         // Its refusals above the caller's rights count as the other administrators' routes' do
         // (an outside attack: the 429 they met was declared nowhere).
         .limits = {kRefusedChangeLimit},
         .handler = resetUser});
}

}  // namespace gatehouse::api
