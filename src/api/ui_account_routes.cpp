// The account page (API.md, Pages for people): profile, password, email, second factors and
// recovery codes, sessions, API keys, linked identities. Each form runs the API route's own
// handler under the API route's own rules (pages::addForm), and answers as a page.
#include <boost/json/parse.hpp>
#include <boost/json/value_from.hpp>

#include "api/body.hpp"
#include "api/handlers.hpp"
#include "api/page_support.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/claims.hpp"
#include "ui/pages.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;
using http::Lane;
using pages::html;

// What a finished form tells on the page it returns to (?done=...): fixed texts only, so a link
// cannot put words on the page.
constexpr std::pair<std::string_view, std::string_view> kDone[] = {
    {"verification-sent", "We have sent a verification link to your address."},
    {"change-sent", "We have sent a confirmation link to the new address. Open it to finish."},
    {"factor-added", "The authenticator app is now your second factor."},
    {"factor-removed", "The authenticator app was removed."},
    {"session-ended", "The session has ended."},
    {"key-revoked", "The API key was revoked."},
    {"identity-unlinked", "The linked identity was removed."},
    {"identity-linked", "The identity is linked: it signs you in to this account."},
    {"identity-in-use", "That identity is linked to another account; it was not linked here."},
    {"identity-limit", "This account holds the most linked identities; unlink one first."},
    {"identity-not-linked", "The identity was not linked. Try again."},
    {"passkey-added", "The passkey is added: it signs you in, and is your second factor."},
    {"passkey-renamed", "The passkey was renamed."},
    {"passkey-removed", "The passkey was removed."},
};

using pages::when;

// A time that may be missing ("never"): null or {iso, text}.
json::value maybe(const std::optional<std::int64_t>& unix_seconds) {
  if (!unix_seconds) return nullptr;
  return when(*unix_seconds);
}

// The account page; `error` (the API's words) above everything when a form failed.
http::Response accountPage(Call& c, int status, std::string_view notice, std::string_view error) {
  Services& s = c.services;
  const auth::Principal& who = *c.who;
  const store::User& user = *who.user;
  auto listed = s.mfa->list(user.id);
  if (!listed) return pages::pageRefusal(s, c.request, errorResponse(listed.error(), c.request));
  auto sessions = s.sessions.list(who);
  if (!sessions)
    return pages::pageRefusal(s, c.request, errorResponse(sessions.error(), c.request));
  auto keys = s.api_keys.list(user.id);
  if (!keys) return pages::pageRefusal(s, c.request, errorResponse(keys.error(), c.request));
  auto identities = s.oidc.identities(user.id);
  if (!identities)
    return pages::pageRefusal(s, c.request, errorResponse(identities.error(), c.request));

  json::array factors;
  json::array passkeys;
  for (const auto& f : listed->confirmed) {
    if (f.type == "webauthn") {
      const bool can_sync = webauthn::canSync(webauthn::passkeyOf(f));
      passkeys.push_back(json::object{{"id", f.id},
                                      {"name", f.name},
                                      {"kind", can_sync ? "can sync" : "this device only"},
                                      {"created", when(f.created_at)},
                                      {"last_used", maybe(f.last_used_at)}});
      continue;
    }
    factors.push_back(json::object{{"id", f.id},
                                   {"name", f.name},
                                   {"created", when(f.created_at)},
                                   {"last_used", maybe(f.last_used_at)}});
  }
  const std::string_view current = auth::sessionOf(who.claims());
  json::array session_rows;
  for (const auto& session : *sessions) {
    session_rows.push_back(json::object{{"id", session.id},
                                        {"user_agent", session.user_agent},
                                        {"ip", session.ip},
                                        {"created", when(session.created_at)},
                                        {"last_used", when(session.last_used_at)},
                                        {"current", session.id == current}});
  }
  json::array key_rows;
  for (const auto& k : *keys) {
    std::string scopes;
    for (const auto& sc : k.scopes) scopes += (scopes.empty() ? "" : " ") + sc;
    key_rows.push_back(json::object{{"id", k.id},
                                    {"name", k.name},
                                    {"prefix", std::string(auth::kApiKeyPrefix) + k.public_id},
                                    {"scopes", scopes},
                                    {"created", when(k.created_at)},
                                    {"expires", maybe(k.expires_at)},
                                    {"last_used", maybe(k.last_used_at)}});
  }
  json::array linked;
  for (const auto& i : *identities) {
    linked.push_back(json::object{{"id", i.id},
                                  {"provider", i.provider},
                                  {"email", i.email},
                                  {"created", when(i.created_at)}});
  }
  json::array providers;
  for (const auto& name : s.oidc.providerNames())
    providers.push_back(json::object{{"name", name}, {"label", pages::providerLabel(name)}});
  const auto token = pages::formToken(c);
  return html(s, status,
              pages::render(c, "account", "Your account",
                            {{"notice", notice},
                             {"error", error},
                             {"user", json::object{{"username", user.username},
                                                   {"email", user.email},
                                                   {"verified", user.email_verified},
                                                   {"role", user.role},
                                                   {"created", when(user.created_at)}}},
                             {"mfa_enabled", user.mfa_enabled},
                             {"factors", std::move(factors)},
                             {"passkeys", std::move(passkeys)},
                             {"passkeys_on", s.passkeys != nullptr},
                             {"recovery_left", listed->recovery_codes_left},
                             {"sessions", std::move(session_rows)},
                             {"keys", std::move(key_rows)},
                             {"permissions", json::value_from(who.permissions)},
                             {"identities", std::move(linked)},
                             {"providers", std::move(providers)}},
                            token.token));
}

http::Response show(Call& c) {
  return accountPage(c, 200, pages::notice(kDone, c.request.queryParam("done")), {});
}

// A page with one-time secrets (a new factor's key, recovery codes, an API key): shown once.
http::Response secretPage(Call& c, std::string_view view, std::string_view title,
                          json::object data) {
  const auto token = pages::formToken(c);
  return html(c.services, 200, pages::render(c, view, title, std::move(data), token.token));
}

// The "recovery_codes" of an API answer.
json::value codesOf(const http::Response& api) {
  boost::system::error_code ec;
  const json::value v = json::parse(api.body, ec);
  const json::value* codes =
      !ec && v.is_object() ? v.get_object().if_contains("recovery_codes") : nullptr;
  return codes != nullptr ? *codes : json::value(nullptr);
}

http::Response failed(Call& c, const http::Response& api) {
  if (pages::needsSignIn(api)) return pages::pageRefusal(c.services, c.request, api);
  return accountPage(c, api.status, {}, pages::detailOf(api));
}

template <class Next>
http::Response answer(Call& c, const http::Response& api, Next&& next) {
  if (api.status < 300) return next(api);
  return failed(c, api);
}

http::Response back(std::string_view done, std::string_view anchor) {
  return pages::seeOther("/ui/account?done=" + std::string(done) + "#" + std::string(anchor));
}

template <http::Response (*Api)(Call&)>
http::Response simple(Call& c, std::string_view done, std::string_view anchor) {
  return answer(c, Api(c), [&](const http::Response&) { return back(done, anchor); });
}

http::Response changePassword(Call& c) {
  return answer(c, handlers::changePassword(c), [&](const http::Response&) {
    // Every session ended, this browser's too.
    http::Response res = pages::seeOther("/ui/login?signed_out=password");
    pages::clearSignIn(res, c.services);
    return res;
  });
}

http::Response enrol(Call& c) {
  return answer(c, handlers::enrol(c), [&](const http::Response& api) {
    boost::system::error_code ec;
    const json::value v = json::parse(api.body, ec);
    if (ec || !v.is_object()) return accountPage(c, 500, {}, "Something went wrong.");
    const json::object& o = v.get_object();
    // qr_svg is our own SVG (mfa::qrSvg: one path, no script, no reference).
    return secretPage(c, "totp", "Add an authenticator app",
                      {{"id", o.at("id")}, {"qr_svg", o.at("qr_svg")}, {"secret", o.at("secret")}});
  });
}

http::Response confirm(Call& c) {
  return answer(c, handlers::confirm(c), [&](const http::Response& api) {
    json::value codes = codesOf(api);
    if (codes.is_null()) return back("factor-added", "mfa");
    return secretPage(
        c, "codes", "Your recovery codes",
        {{"notice", pages::notice(kDone, "factor-added")}, {"codes", std::move(codes)}});
  });
}

http::Response recoveryCodes(Call& c) {
  return answer(c, handlers::recoveryCodes(c), [&](const http::Response& api) {
    json::value codes = codesOf(api);
    if (codes.is_null()) return accountPage(c, 500, {}, "Something went wrong.");
    return secretPage(c, "codes", "Your new recovery codes",
                      {{"codes", std::move(codes)}, {"replaced", true}});
  });
}

http::Response endSession(Call& c) {
  const bool mine = c.request.path_params.at("id") == auth::sessionOf(c.who->claims());
  return answer(c, handlers::endSession(c), [&](const http::Response&) {
    if (!mine) return back("session-ended", "sessions");
    http::Response res = pages::seeOther("/ui/login?signed_out=1");
    pages::clearSignIn(res, c.services);
    return res;
  });
}

// The options for the page's script (JSON, as the API answers): a refusal (a step-up due, a
// session gone) is the page's usual answer, which the script follows.
http::Response passkeyOptions(Call& c) {
  http::Response api = handlers::passkeyOptions(c);
  if (api.status < 300) return api;
  return failed(c, api);
}

http::Response addPasskey(Call& c) {
  return answer(c, handlers::passkeyRegister(c), [&](const http::Response& api) {
    json::value codes = codesOf(api);
    if (codes.is_null()) return back("passkey-added", "passkeys");
    return secretPage(
        c, "codes", "Your recovery codes",
        {{"notice", pages::notice(kDone, "passkey-added")}, {"codes", std::move(codes)}});
  });
}

http::Response createKey(Call& c) {
  Body& body = *c.body;
  body.forbidOthers({"name", "scopes", "expires_in_days"});
  auth::NewApiKey request{body.requiredString("name"), std::nullopt,
                          body.optionalInt("expires_in_days")};
  if (auto scopes = body.formValues("scopes"); !scopes.empty()) request.scopes = std::move(scopes);
  if (!body.ok()) return accountPage(c, 422, {}, pages::detailOf(validationError(body.errors())));
  if (auto refused = c.admit()) return failed(c, std::move(*refused));
  auto created = createApiKey(c, request);
  if (!created) return failed(c, errorResponse(created.error(), c.request));
  return secretPage(c, "new-key", "Your new API key", {{"key", created->plaintext}});
}

// Links an identity at a provider to this account: the sign-in flow, begun here for the signed-in
// user and this session (a step-up first, as for a passkey added: a new way in), ending on this
// page. The transaction cookie binds it to this browser: a provider's answer to someone else's
// linking, opened here, fails its state check.
http::Response linkIdentity(Call& c) {
  http::Response begun = beginExternal(
      c, std::nullopt, std::nullopt,
      oidc::OidcService::Linking{c.who->user->id, std::string(auth::sessionOf(c.who->claims()))});
  // Refused (an unknown provider, the limit, the provider unreachable): the account page says so.
  return begun.status < 400 ? begun : failed(c, begun);
}

}  // namespace

http::Response pages::finishLink(const Services& s, const std::string& landing) {
  const auto where = s.oidc.landingOf(landing);
  std::string_view done = "identity-not-linked";  // the reason is in the log and the audit trail
  if (!where.linked.empty())
    done = "identity-linked";
  else if (where.error == "identity_in_use")
    done = "identity-in-use";
  else if (where.error == "too_many_identities")
    done = "identity-limit";
  return back(done, "identities");
}

void addUiAccountRoutes(RouteTable& t) {
  t.add({.method = "GET",
         .path = "/ui/account",
         .credential = Credential::Session,
         .lane = Lane::Storage,
         .before_mfa_enrolment = true,
         .summary = "The account page",
         .tag = "pages",
         .replies = {{200, "The page", ""}},
         .hidden = true,
         .handler = show});
  using pages::addForm;
  addForm(t, "POST", "/api/v1/auth/password", "/ui/account/password", "Change the password",
          changePassword);
  addForm(t, "POST", "/api/v1/auth/email/verify/request", "/ui/account/email/verify",
          "Send a verification link", [](Call& c) {
            return simple<handlers::requestVerification>(c, "verification-sent", "email");
          });
  addForm(t, "POST", "/api/v1/auth/email/change", "/ui/account/email", "Change the email address",
          [](Call& c) { return simple<handlers::requestEmailChange>(c, "change-sent", "email"); });
  addForm(t, "POST", "/api/v1/auth/mfa/totp", "/ui/account/mfa/totp", "Add an authenticator app",
          enrol);
  addForm(t, "POST", "/api/v1/auth/mfa/totp/{id}/confirm", "/ui/account/mfa/totp/{id}/confirm",
          "Confirm the authenticator app", confirm);
  addForm(t, "DELETE", "/api/v1/auth/mfa/{id}", "/ui/account/mfa/{id}/remove",
          "Remove a second factor",
          [](Call& c) { return simple<handlers::removeFactor>(c, "factor-removed", "mfa"); });
  addForm(t, "POST", "/api/v1/auth/webauthn/register/options", "/ui/account/passkeys/options",
          "The options to add a passkey (for the page's script)", passkeyOptions);
  addForm(t, "POST", "/api/v1/auth/webauthn/register", "/ui/account/passkeys", "Add a passkey",
          addPasskey);
  addForm(t, "PATCH", "/api/v1/auth/webauthn/credentials/{id}", "/ui/account/passkeys/{id}/rename",
          "Rename a passkey", [](Call& c) {
            return simple<handlers::passkeyRename>(c, "passkey-renamed", "passkeys");
          });
  addForm(t, "DELETE", "/api/v1/auth/webauthn/credentials/{id}", "/ui/account/passkeys/{id}/remove",
          "Remove a passkey", [](Call& c) {
            return simple<handlers::passkeyRemove>(c, "passkey-removed", "passkeys");
          });
  addForm(t, "POST", "/api/v1/auth/mfa/recovery-codes", "/ui/account/mfa/recovery-codes",
          "Make new recovery codes", recoveryCodes);
  addForm(t, "DELETE", "/api/v1/auth/sessions/{id}", "/ui/account/sessions/{id}/end",
          "End a session", endSession);
  addForm(t, "POST", "/api/v1/api-keys", "/ui/account/api-keys", "Create an API key", createKey);
  addForm(t, "DELETE", "/api/v1/api-keys/{id}", "/ui/account/api-keys/{id}/revoke",
          "Revoke an API key",
          [](Call& c) { return simple<handlers::revokeApiKey>(c, "key-revoked", "api-keys"); });
  addForm(t, "DELETE", "/api/v1/auth/identities/{id}", "/ui/account/identities/{id}/unlink",
          "Unlink an identity",
          [](Call& c) { return simple<handlers::unlink>(c, "identity-unlinked", "identities"); });
  t.add({.method = "POST",
         .path = "/ui/account/identities/link/{provider}",
         .credential = Credential::Session,
         .lane = Lane::Outbound,  // asks the provider, as the sign-in's start does
         .step_up = true,
         .summary = "Link an identity at an external provider to this account (302 to it)",
         .tag = "pages",
         .body = BodyKind::Form,
         .body_schema = "CsrfForm",
         .replies = {{302, "To the provider", ""}},
         .limits = pages::limitsOf(t, "GET", "/api/v1/auth/oauth/{provider}"),
         .csrf = true,
         .hidden = true,
         .handler = linkIdentity});
}

}  // namespace gatehouse::api
