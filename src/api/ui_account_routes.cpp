// The account page (API.md, Pages for people): profile, password, email, second factors and
// recovery codes, sessions, API keys, linked identities. Each form runs the API route's own
// handler under the API route's own rules (pages::addForm), and answers as a page.
#include <boost/json/parse.hpp>

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
};

using pages::when;

std::string section(std::string_view id, std::string_view title, std::string_view content) {
  return "<section id=\"" + std::string(id) + "\" aria-labelledby=\"" + std::string(id) +
         "-title\"><h2 id=\"" + std::string(id) + "-title\">" + ui::esc(title) + "</h2>\n" +
         std::string(content) + "</section>\n";
}

// The account page; `error` (the API's words) above everything when a form failed.
http::Response accountPage(Call& c, int status, std::string_view notice, std::string_view error) {
  Services& s = c.services;
  const auth::Principal& who = *c.who;
  const store::User& user = *who.user;
  const auto token = pages::formToken(c);
  const std::string& csrf = token.token;
  std::string body = ui::heading("Your account");
  if (!notice.empty()) body += ui::noticeBox(notice);
  if (!error.empty()) body += ui::errorBox(error);

  body += section("profile", "Profile",
                  "<dl><dt>Username</dt><dd id=\"profile-username\">" + ui::esc(user.username) +
                      "</dd><dt>Email</dt><dd id=\"profile-email\">" + ui::esc(user.email) +
                      (user.email_verified ? " (verified)" : " (not verified)") +
                      "</dd><dt>Role</dt><dd id=\"profile-role\">" + ui::esc(user.role) +
                      "</dd><dt>Member since</dt><dd>" + when(user.created_at) + "</dd></dl>\n");

  std::string password = ui::formStart("/ui/account/password", "password-form", csrf);
  // For password managers: whose password this is.
  password += "<input type=\"text\" name=\"username\" autocomplete=\"username\" value=\"" +
              ui::esc(user.username) + "\" hidden>\n";
  password += ui::field({"Current password", "current_password", "password", "current-password"});
  password += ui::field({"New password", "new_password", "password", "new-password"});
  if (user.mfa_enabled) {
    password += ui::field({"Code from your authenticator app",
                           "code",
                           "text",
                           "one-time-code",
                           true,
                           {},
                           "maxlength=\"64\""});
  }
  password +=
      "<label class=\"check\"><input type=\"checkbox\" name=\"keep_api_keys\" "
      "value=\"true\">Keep my API keys working</label>\n";
  password += ui::formEnd("Change the password");
  password += ui::paragraph("Changing the password signs you out everywhere.");
  body += section("password", "Password", password);

  std::string email;
  if (!user.email_verified) {
    email += ui::paragraph("Your address " + user.email + " is not verified yet.");
    email += ui::buttonForm("/ui/account/email/verify", "email-verify-form", csrf,
                            "Send a verification link");
  }
  email += ui::formStart("/ui/account/email", "email-change-form", csrf);
  email += ui::field(
      {"New email address", "new_email", "email", "email", true, {}, "maxlength=\"254\""});
  email += ui::formEnd("Change the address", "secondary");
  body += section("email", "Email", email);

  std::string factors;
  auto listed = s.mfa->list(user.id);
  if (!listed) return pages::pageRefusal(s, c.request, errorResponse(listed.error(), c.request));
  if (listed->confirmed.empty()) {
    factors += ui::paragraph("No second factor yet.");
  } else {
    factors +=
        "<div class=\"table\"><table id=\"factors-table\"><thead><tr><th>Name</th>"
        "<th>Added</th><th>Last used</th><th></th></tr></thead><tbody>\n";
    for (const auto& f : listed->confirmed) {
      factors += "<tr data-factor-id=\"" + std::to_string(f.id) + "\"><td>" + ui::esc(f.name) +
                 "</td><td>" + when(f.created_at) + "</td><td>" +
                 (f.last_used_at ? when(*f.last_used_at) : "never") + "</td><td>" +
                 ui::buttonForm("/ui/account/mfa/" + std::to_string(f.id) + "/remove",
                                "factor-remove-" + std::to_string(f.id), csrf, "Remove", {},
                                "danger", "Remove the authenticator app " + f.name) +
                 "</td></tr>\n";
    }
    factors += "</tbody></table></div>\n";
    factors += "<p id=\"recovery-codes-left\">Recovery codes left: " +
               std::to_string(listed->recovery_codes_left) + "</p>\n";
    factors += ui::buttonForm("/ui/account/mfa/recovery-codes", "recovery-codes-form", csrf,
                              "Make new recovery codes", {}, "secondary");
  }
  factors += ui::formStart("/ui/account/mfa/totp", "totp-enrol-form", csrf);
  factors += ui::field({"Name of the app (optional)",
                        "name",
                        "text",
                        "off",
                        false,
                        {},
                        "maxlength=\"64\"",
                        "factor-name"});
  factors += ui::formEnd("Add an authenticator app");
  body += section("mfa", "Second factor", factors);

  auto sessions = s.sessions.list(who);
  if (!sessions)
    return pages::pageRefusal(s, c.request, errorResponse(sessions.error(), c.request));
  const std::string_view current = auth::sessionOf(who.claims);
  std::string rows;
  for (const auto& session : *sessions) {
    const bool mine = session.id == current;
    rows +=
        "<tr data-session-id=\"" + ui::esc(session.id) + "\"" + (mine ? " class=\"current\"" : "") +
        "><td>" + ui::esc(session.user_agent) + (mine ? " <strong>(this browser)</strong>" : "") +
        "</td><td>" + ui::esc(session.ip) + "</td><td>" + when(session.created_at) + "</td><td>" +
        when(session.last_used_at) + "</td><td>" +
        ui::buttonForm("/ui/account/sessions/" + session.id + "/end", "session-end-" + session.id,
                       csrf, mine ? "Sign out" : "End", {}, "danger",
                       "End the session of " + session.user_agent + " from " + session.ip) +
        "</td></tr>\n";
  }
  body += section("sessions", "Sessions",
                  "<div class=\"table\"><table id=\"sessions-table\"><thead><tr><th>Device</th>"
                  "<th>Address</th><th>Started</th><th>Last used</th><th></th></tr></thead>"
                  "<tbody>\n" +
                      rows + "</tbody></table></div>\n");

  auto keys = s.api_keys.list(user.id);
  if (!keys) return pages::pageRefusal(s, c.request, errorResponse(keys.error(), c.request));
  std::string key_rows;
  for (const auto& k : *keys) {
    std::string scopes;
    for (const auto& sc : k.scopes) scopes += (scopes.empty() ? "" : " ") + sc;
    key_rows += "<tr data-api-key-id=\"" + std::to_string(k.id) + "\"><td>" + ui::esc(k.name) +
                "</td><td><code>" + ui::esc(std::string(auth::kApiKeyPrefix) + k.public_id) +
                "</code></td><td>" + ui::esc(scopes) + "</td><td>" + when(k.created_at) +
                "</td><td>" + (k.expires_at ? when(*k.expires_at) : "never") + "</td><td>" +
                (k.last_used_at ? when(*k.last_used_at) : "never") + "</td><td>" +
                ui::buttonForm("/ui/account/api-keys/" + std::to_string(k.id) + "/revoke",
                               "api-key-revoke-" + std::to_string(k.id), csrf, "Revoke", {},
                               "danger", "Revoke the API key " + k.name) +
                "</td></tr>\n";
  }
  std::string api_keys;
  if (!key_rows.empty()) {
    api_keys +=
        "<div class=\"table\"><table id=\"api-keys-table\"><thead><tr><th>Name</th>"
        "<th>Prefix</th><th>Scopes</th><th>Created</th><th>Expires</th><th>Last used</th>"
        "<th></th></tr></thead><tbody>\n" +
        key_rows + "</tbody></table></div>\n";
  }
  api_keys += ui::formStart("/ui/account/api-keys", "api-key-form", csrf);
  api_keys +=
      ui::field({"Name", "name", "text", "off", true, {}, "maxlength=\"100\"", "api-key-name"});
  api_keys += "<fieldset><legend>Scopes (none ticked: all of yours)</legend>\n";
  for (const auto& p : who.permissions) {
    api_keys += "<label class=\"check\"><input type=\"checkbox\" name=\"scopes\" value=\"" +
                ui::esc(p) + "\">" + ui::esc(p) + "</label>\n";
  }
  api_keys += "</fieldset>\n";
  api_keys += ui::field({"Expires after (days, optional)",
                         "expires_in_days",
                         "number",
                         "off",
                         false,
                         {},
                         "min=\"1\" max=\"3650\""});
  api_keys += ui::formEnd("Create an API key");
  body += section("api-keys", "API keys", api_keys);

  auto identities = s.oidc.identities(user.id);
  if (!identities)
    return pages::pageRefusal(s, c.request, errorResponse(identities.error(), c.request));
  std::string linked;
  if (identities->empty()) {
    linked = ui::paragraph("No external sign-in is linked to this account.");
  } else {
    linked =
        "<div class=\"table\"><table id=\"identities-table\"><thead><tr><th>Provider</th>"
        "<th>Email</th><th>Linked</th><th></th></tr></thead><tbody>\n";
    for (const auto& i : *identities) {
      linked += "<tr data-identity-id=\"" + std::to_string(i.id) + "\"><td>" + ui::esc(i.provider) +
                "</td><td>" + ui::esc(i.email) + "</td><td>" + when(i.created_at) + "</td><td>" +
                ui::buttonForm("/ui/account/identities/" + std::to_string(i.id) + "/unlink",
                               "identity-unlink-" + std::to_string(i.id), csrf, "Unlink", {},
                               "danger", "Unlink " + i.provider + " " + i.email) +
                "</td></tr>\n";
    }
    linked += "</tbody></table></div>\n";
  }
  body += section("identities", "Linked sign-in", linked);

  const ui::Viewer viewer = pages::viewerOf(c, token);
  return html(c.services, status, ui::page(s.brand_name, "Your account", body, &viewer));
}

http::Response show(Call& c) {
  return accountPage(c, 200, pages::notice(kDone, c.request.queryParam("done")), {});
}

// A page with one-time secrets (a new factor's key, recovery codes, an API key): shown once.
http::Response secretPage(Call& c, std::string_view title, const std::string& content) {
  const auto token = pages::formToken(c);
  const ui::Viewer viewer = pages::viewerOf(c, token);
  std::string body =
      ui::heading(title) + content +
      "<p class=\"links\"><a href=\"/ui/account#mfa\">Back to your account</a></p>\n";
  return html(c.services, 200, ui::page(c.services.brand_name, title, body, &viewer));
}

std::string codesList(const json::value& codes) {
  std::string out = "<ul id=\"recovery-codes\" class=\"codes\">";
  if (codes.is_array()) {
    for (const auto& code : codes.get_array()) {
      if (code.is_string()) out += "<li><code>" + ui::esc(code.get_string()) + "</code></li>";
    }
  }
  return out + "</ul>\n";
}

constexpr std::string_view kCodesAdvice =
    "Keep these recovery codes somewhere safe: each signs you in once if you lose your "
    "authenticator app. They are shown only now.";

// The API's answer to a form, as a page: `next` for a success (303 back), the account page with
// the API's words for a refusal; a session that ended, or a step-up that is due, goes through
// the portal.
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
    const std::string id = std::to_string(o.at("id").as_int64());
    const auto token = pages::formToken(c);
    std::string content = ui::paragraph(
        "Scan this code with your authenticator app, or type the key into it. Then enter the "
        "code the app shows.");
    // Our own SVG (mfa::qrSvg: one path, no script, no reference).
    content += "<div class=\"qr\" id=\"totp-qr\" role=\"img\" aria-label=\"QR code of the key\">" +
               std::string(o.at("qr_svg").as_string()) + "</div>\n";
    content += "<p>Key: <code id=\"totp-secret\" class=\"secret\">" +
               ui::esc(o.at("secret").as_string()) + "</code></p>\n";
    content +=
        ui::formStart("/ui/account/mfa/totp/" + id + "/confirm", "totp-confirm-form", token.token);
    content += ui::field({"Code from the app",
                          "code",
                          "text",
                          "one-time-code",
                          true,
                          {},
                          "inputmode=\"numeric\" maxlength=\"64\""});
    content += ui::formEnd("Confirm");
    return secretPage(c, "Add an authenticator app", content);
  });
}

http::Response confirm(Call& c) {
  return answer(c, handlers::confirm(c), [&](const http::Response& api) {
    boost::system::error_code ec;
    const json::value v = json::parse(api.body, ec);
    const json::value* codes =
        !ec && v.is_object() ? v.get_object().if_contains("recovery_codes") : nullptr;
    if (codes == nullptr) return back("factor-added", "mfa");
    return secretPage(c, "Your recovery codes",
                      ui::noticeBox(pages::notice(kDone, "factor-added")) +
                          ui::paragraph(kCodesAdvice) + codesList(*codes));
  });
}

http::Response recoveryCodes(Call& c) {
  return answer(c, handlers::recoveryCodes(c), [&](const http::Response& api) {
    boost::system::error_code ec;
    const json::value v = json::parse(api.body, ec);
    const json::value* codes =
        !ec && v.is_object() ? v.get_object().if_contains("recovery_codes") : nullptr;
    if (codes == nullptr) return accountPage(c, 500, {}, "Something went wrong.");
    return secretPage(
        c, "Your new recovery codes",
        ui::paragraph(std::string(kCodesAdvice) + " The earlier codes no longer work.") +
            codesList(*codes));
  });
}

http::Response endSession(Call& c) {
  const bool mine = c.request.path_params.at("id") == auth::sessionOf(c.who->claims);
  return answer(c, handlers::endSession(c), [&](const http::Response&) {
    if (!mine) return back("session-ended", "sessions");
    http::Response res = pages::seeOther("/ui/login?signed_out=1");
    pages::clearSignIn(res, c.services);
    return res;
  });
}

http::Response createKey(Call& c) {
  Body& body = *c.body;
  auth::NewApiKey request{body.requiredString("name"), std::nullopt,
                          body.optionalInt("expires_in_days")};
  if (auto scopes = body.formValues("scopes"); !scopes.empty()) request.scopes = std::move(scopes);
  if (!body.ok()) return accountPage(c, 422, {}, pages::detailOf(validationError(body.errors())));
  auto created = createApiKey(c, request);
  if (!created) return failed(c, errorResponse(created.error(), c.request));
  std::string content =
      ui::paragraph("Copy the key now: it is shown only once. Send it in the X-API-Key header.");
  content += "<p><code id=\"new-api-key\" class=\"secret\">" + ui::esc(created->plaintext) +
             "</code></p>\n";
  return secretPage(c, "Your new API key", content);
}

}  // namespace

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
}

}  // namespace gatehouse::api
