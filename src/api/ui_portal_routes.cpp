// The sign-in portal (API.md, Pages for people): /ui/login with the second factor and external
// providers, /ui/register, /ui/forgot-password, /ui/logout. Every form goes through the same
// services, limits, lockout and audit as the JSON API, and answers in the API's words.

#include "api/body.hpp"
#include "api/page_support.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/claims.hpp"
#include "auth/validation.hpp"
#include "core/ascii.hpp"
#include "core/log.hpp"
#include "core/uri_path.hpp"
#include "crypto/pkce.hpp"
#include "crypto/random.hpp"
#include "ui/pages.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;

using http::Lane;
using pages::html;

constexpr std::string_view kHome = "/ui/account";

// The return address a request names (?return_to=, or ?rd= as Authelia's portal takes it).
std::string requestedReturn(const Call& c) {
  auto v = c.request.queryParam("return_to");
  if (!v) v = c.request.queryParam("rd");
  return v ? pages::returnTo(c.services, *v) : "";
}

// The query string that carries a return address on to the next page.
std::string returnQuery(std::string_view return_to) {
  return return_to.empty() ? "" : "?return_to=" + core::percentEncode(return_to);
}

struct LoginView {
  std::string_view return_to;
  std::string_view error;
  std::string_view notice;
  std::string_view username;
};

std::string loginPage(const Call& c, const std::string& csrf, const LoginView& v) {
  const Services& s = c.services;
  json::array providers;
  for (const auto& name : s.oidc.providerNames()) {
    providers.push_back(json::object{
        {"name", name},
        {"label", pages::providerLabel(name)},
        {"href", "/ui/login/external/" + core::percentEncode(name) + returnQuery(v.return_to)}});
  }
  return pages::render(c, "login", "Sign in",
                       {{"notice", v.notice},
                        {"error", v.error},
                        {"return_to", v.return_to},
                        {"username", v.username},
                        {"providers", std::move(providers)},
                        {"registration", s.registration_enabled},
                        {"passkeys", s.passkeys != nullptr}},
                       csrf);
}

std::string mfaPage(const Call& c, const std::string& csrf, std::string_view mfa_token,
                    std::string_view return_to, std::string_view error) {
  // Which proofs the pending sign-in's user has (read without spending the mfa_token).
  bool passkey = false;
  bool totp = true;
  if (c.services.passkeys != nullptr) {
    if (auto user = c.services.mfa->pendingUser(mfa_token, clientOf(c.request))) {
      const auto methods = c.services.mfa->methods(user->id);
      passkey = std::find(methods.begin(), methods.end(), "webauthn") != methods.end();
      totp = std::find(methods.begin(), methods.end(), "totp") != methods.end();
    }
  }
  return pages::render(c, "mfa", "Two-step verification",
                       {{"error", error},
                        {"mfa_token", mfa_token},
                        {"return_to", return_to},
                        {"passkey", passkey},
                        {"totp", totp}},
                       csrf);
}

// Signs the browser in: a new browser session (the one this browser had ends), its cookie, and
// on to the return address.
http::Response finishSignIn(Call& c, const auth::SignedIn& who, std::string_view return_to) {
  Services& s = c.services;
  const auto client = clientOf(c.request);
  auto started = s.browser->start(who, client);
  if (!started) {
    const auto csrf = pages::formToken(c);
    return pages::refused(started.error(), c.request, [&](int status, std::string_view text) {
      return pages::attach(
          pages::htmlReturning(c, status, loginPage(c, csrf.token, {return_to, text}), return_to),
          csrf);
    });
  }
  if (auto previous = pages::signedIn(c)) {
    if (auto ended = s.browser->end(*previous, client); !ended)
      spdlog::warn("request_id={} the browser's previous session did not end: {}",
                   c.request.request_id, ended.error().detail);
  }
  http::Response res =
      pages::seeOther(return_to.empty() ? std::string(kHome) : std::string(return_to));
  pages::setSignIn(res, s, started->cookie, started->session_id);
  return res;
}

// The second factor is due: its page, with a one-time mfa_token for this browser.
http::Response askSecondFactor(Call& c, const auth::SignedIn& who, std::string_view return_to) {
  const auto client = clientOf(c.request);
  const auto csrf = pages::formToken(c);
  auto token = c.services.mfa->challenge(who, client);
  if (!token) {
    return pages::refused(token.error(), c.request, [&](int status, std::string_view text) {
      return pages::attach(
          pages::htmlReturning(c, status, loginPage(c, csrf.token, {return_to, text}), return_to),
          csrf);
    });
  }
  return pages::attach(
      pages::htmlReturning(c, 200, mfaPage(c, csrf.token, *token, return_to, {}), return_to), csrf);
}

// On the I/O thread unless it needs storage: a sign-in cookie whose session is not in memory
// (signedIn), or a return to an OpenID client's authorization request (htmlReturning reads the
// client's redirect URI for the form-action). Either hands the request to a worker.
http::Response showLogin(Call& c) {
  const std::string return_to = requestedReturn(c);
  const bool again = c.request.queryParam("reauth").has_value();
  if (!again) {
    const bool signed_in = pages::signedIn(c).has_value();
    if (c.wants_worker) return {};
    if (signed_in) return pages::seeOther(return_to.empty() ? std::string(kHome) : return_to);
  }
  std::string_view notice;
  if (again) notice = "Sign in again to continue.";
  if (const auto out = c.request.queryParam("signed_out")) {
    notice = *out == "password" ? "Your password has changed and every session has ended. Sign "
                                  "in with the new password."
                                : "You have signed out.";
  }
  std::string_view error;
  if (const auto e = c.request.queryParam("error")) {
    error = *e == "identity_removed"
                ? "A new password (a reset, or one an administrator set) removed this sign-in "
                  "from its account. Sign in with the password, then link it again under Linked "
                  "sign-in on your account page."
                : "Sign-in with the provider did not succeed.";
  }
  // An OpenID client's login_hint fills the name in (OIDC Core §3.1.2.1).
  std::string hint = c.request.queryParam("login_hint").value_or("");
  if (hint.size() > 320) hint.clear();
  const auto csrf = pages::formToken(c);
  return pages::attach(
      pages::htmlReturning(c, 200, loginPage(c, csrf.token, {return_to, error, notice, hint}),
                           return_to),
      csrf);
}

http::Response submitLogin(Call& c) {
  Body& body = *c.body;
  const std::string username = body.requiredString("username");
  const std::string password = body.requiredString("password");
  const std::string return_to =
      pages::returnTo(c.services, body.optionalString("return_to").value_or(""));
  const auto csrf = pages::formToken(c);
  const auto page = [&](int status, std::string_view error) {
    return pages::attach(
        pages::htmlReturning(c, status, loginPage(c, csrf.token, {return_to, error, {}, username}),
                             return_to),
        csrf);
  };
  if (!body.ok()) return page(422, "Enter your email (or username) and your password.");
  if (auto refused = c.admit()) return pages::limited(*refused, page);
  const auto client = clientOf(c.request);
  auto who = c.services.passwords.login(username, password, std::nullopt, client);
  if (!who) {
    return pages::refused(who.error(), c.request, page);
  }
  if (who->user.mfa_enabled) return askSecondFactor(c, *who, return_to);
  return finishSignIn(c, *who, return_to);
}

http::Response submitMfa(Call& c) {
  Body& body = *c.body;
  const std::string token = body.requiredString("mfa_token");
  std::string code = body.requiredString("code");
  const std::string return_to =
      pages::returnTo(c.services, body.optionalString("return_to").value_or(""));
  const auto csrf = pages::formToken(c);
  if (!body.ok())
    return pages::attach(
        pages::htmlReturning(c, 422, mfaPage(c, csrf.token, token, return_to, "Enter the code."),
                             return_to),
        csrf);
  if (auto refused = c.admit()) {  // MfaAccount: counted by the MFA service
    return pages::limited(*refused, [&](int status, std::string_view text) {
      return pages::attach(
          pages::htmlReturning(c, status, mfaPage(c, csrf.token, token, return_to, text),
                               return_to),
          csrf);
    });
  }
  // Authenticator apps show "123 456"; people paste with spaces.
  std::erase(code, ' ');
  auto who = c.services.mfa->verify(token, code, clientOf(c.request));
  if (!who) {
    // A mistyped code may be typed again with the same mfa_token (the service keeps it for its
    // five minutes, every attempt counted against MFA_RATE_LIMIT); a spent or expired one says
    // "Invalid code" too, and the page offers to start again.
    return pages::refused(who.error(), c.request, [&](int status, std::string_view text) {
      return pages::attach(
          pages::htmlReturning(c, status, mfaPage(c, csrf.token, token, return_to, text),
                               return_to),
          csrf);
    });
  }
  return finishSignIn(c, *who, return_to);
}

// A passkey's answer from the page's script: the credential as JSON in a form field.
http::Response submitPasskey(Call& c) {
  Body& body = *c.body;
  const std::string return_to =
      pages::returnTo(c.services, body.optionalString("return_to").value_or(""));
  auto credential = body.requiredObject("credential", 64 * 1024);
  const auto csrf = pages::formToken(c);
  const auto page = [&](int status, std::string_view error) {
    return pages::attach(
        pages::htmlReturning(c, status, loginPage(c, csrf.token, {return_to, error}), return_to),
        csrf);
  };
  if (!body.ok() || c.services.passkeys == nullptr)
    return page(422, "Your browser sent no passkey. Try again.");
  if (auto refused = c.admit()) return pages::limited(*refused, page);
  auto who = c.services.passkeys->login(*credential, clientOf(c.request));
  if (!who) return pages::refused(who.error(), c.request, page);
  return finishSignIn(c, *who, return_to);
}

http::Response submitMfaPasskey(Call& c) {
  Body& body = *c.body;
  const std::string token = body.requiredString("mfa_token");
  const std::string return_to =
      pages::returnTo(c.services, body.optionalString("return_to").value_or(""));
  auto credential = body.requiredObject("credential", 64 * 1024);
  const auto csrf = pages::formToken(c);
  const auto page = [&](int status, std::string_view text) {
    return pages::attach(
        pages::htmlReturning(c, status, mfaPage(c, csrf.token, token, return_to, text), return_to),
        csrf);
  };
  if (!body.ok() || c.services.passkeys == nullptr)
    return page(422, "Your browser sent no passkey. Try again.");
  if (auto refused = c.admit()) return pages::limited(*refused, page);
  auto who = c.services.passkeys->secondFactor(token, *credential, clientOf(c.request));
  if (!who) return pages::refused(who.error(), c.request, page);
  return finishSignIn(c, *who, return_to);
}

std::string registerPage(const Call& c, const std::string& csrf, std::string_view error,
                         std::string_view email, std::string_view username) {
  return pages::render(c, "register", "Create an account",
                       {{"error", error}, {"email", email}, {"username", username}}, csrf);
}

http::Response showRegister(Call& c) {
  if (!c.services.registration_enabled) {
    return html(c.services, 403,
                ui::messagePage(c.services.brand_name, "Registration is disabled",
                                "Ask an administrator for an account."));
  }
  const auto csrf = pages::formToken(c);
  return pages::attach(html(c.services, 200, registerPage(c, csrf.token, {}, {}, {})), csrf);
}

http::Response submitRegister(Call& c) {
  Services& s = c.services;
  const auto& r = c.request;
  if (!s.registration_enabled) {
    return html(c.services, 403,
                ui::messagePage(s.brand_name, "Registration is disabled",
                                "Ask an administrator for an account."));
  }
  Body& body = *c.body;
  auth::RegisterInput in{body.requiredString("email"), body.requiredString("username"),
                         body.requiredString("password")};
  const auto csrf = pages::formToken(c);
  const auto page = [&](int status, std::string_view error) {
    return pages::attach(
        html(c.services, status, registerPage(c, csrf.token, error, in.email, in.username)), csrf);
  };
  if (!body.ok()) return page(422, "Fill in every field.");
  if (auto problems = s.passwords.registrationProblems(in); !problems.empty()) {
    return page(422, pages::refusalText({auth::Errc::Validation, {}, problems, 0}, r));
  }
  if (auto refused = c.admit()) return pages::limited(*refused, page);
  const auto client = clientOf(r);
  const auto mode = s.email_verification;
  std::optional<auth::Error> held;
  auto user = s.passwords.registerUser(in, client, c.registrationWrite(in.email, held));
  if (held) {
    // The mailbox's registrations are spent: say so, with the refusal's Retry-After.
    return pages::keepRetryAfter(
        page(429, "Too many emails were sent to this address recently. Try again later."),
        errorResponse(*held, r));
  }
  if (!user) return pages::refused(user.error(), r, page);
  if (mode == config::EmailVerification::Required) {
    return html(c.services, 201,
                ui::messagePage(s.brand_name, "Check your email",
                                "We have sent a link to " + in.email +
                                    ". Open it to verify the address, then sign in."));
  }
  return finishSignIn(c, *user, {});
}

constexpr std::string_view kForgotNotice =
    "If an account uses that address, we have sent it a link to choose a new password.";

std::string forgotPage(const Call& c, const std::string& csrf, std::string_view error,
                       std::string_view notice) {
  return pages::render(c, "forgot", "Forgot your password?", {{"error", error}, {"notice", notice}},
                       csrf);
}

http::Response showForgot(Call& c) {
  const auto csrf = pages::formToken(c);
  return pages::attach(html(c.services, 200, forgotPage(c, csrf.token, {}, {})), csrf);
}

http::Response submitForgot(Call& c) {
  Body& body = *c.body;
  const std::string email = body.requiredString("email");
  const auto csrf = pages::formToken(c);
  const auto page = [&](int status, std::string_view error) {
    return pages::attach(html(c.services, status, forgotPage(c, csrf.token, error, {})), csrf);
  };
  if (!body.ok()) return page(422, "Enter your email address.");
  // As the API's ForgotPasswordRequest: the address alone.
  body.forbidOthers({"email"});
  if (!body.ok()) return page(422, "This form takes the email address alone.");
  // As the API: an address that cannot be one is refused before it counts (a review sent reset
  // mail past the limit with "\0"-suffixed spellings the page passed on).
  if (!auth::emailProblem(email).empty()) return page(422, "Enter a valid email address.");
  mail::EmailFlows* flows = c.services.email;
  // As the API: a full queue answers before the limits count.
  if (flows != nullptr) {
    if (auto room = flows->forgotHasRoom(clientOf(c.request)); !room)
      return pages::refused(room.error(), c.request, page);
  }
  if (auto refused = c.admit()) return pages::limited(*refused, page);
  // As the API: the same answer, in the same time, for known and unknown addresses.
  auto done = flows != nullptr ? flows->forgot(email, clientOf(c.request))
                               : auth::Result<void>(tl::unexpected(auth::Error{
                                     auth::Errc::MailNotConfigured, "no mail transport", {}, 0}));
  if (!done) {
    return pages::refused(done.error(), c.request, page);
  }
  return pages::attach(html(c.services, 200, forgotPage(c, csrf.token, {}, kForgotNotice)), csrf);
}

http::Response showLogout(Call& c) {
  const auto csrf = pages::formToken(c);
  return html(c.services, 200, pages::render(c, "logout", "Sign out", {}, csrf.token));
}

http::Response submitLogout(Call& c) {
  Services& s = c.services;
  if (auto ended = s.browser->end(*c.who, clientOf(c.request)); !ended)
    return pages::pageRefusal(s, c.request, errorResponse(ended.error(), c.request));
  http::Response res = pages::seeOther("/ui/login?signed_out=1");
  pages::clearSignIn(res, s);
  return res;
}

// Bound to this browser (its gatehouse_csrf cookie, which only this host sets): the code the
// callback gets is traded with a verifier keyed from it. Without it a transaction cookie planted
// by a sibling subdomain, with the callback of the attacker's own sign-in, signed the victim's
// browser in as the attacker (a review: login CSRF).
http::Response external(Call& c) {
  const std::string return_to = requestedReturn(c);
  const auto binding = pages::browserBinding(c);
  const auto verifier = binding ? pages::externalVerifier(c, binding->value) : std::nullopt;
  if (!verifier)
    return errorResponse({auth::Errc::Unavailable, "random source failed", {}, 0}, c.request);
  http::Response res = beginExternal(c, return_to.empty() ? std::string(kHome) : return_to,
                                     crypto::s256Challenge(*verifier));
  if (res.status == 302) pages::addCookie(res, binding->set_cookie);
  return res;
}

http::Response home(Call&) { return pages::seeOther(std::string(kHome)); }

}  // namespace

http::Response pages::finishExternal(Call& c, const std::string& landing,
                                     const std::string& portal_return) {
  Services& s = c.services;
  // Checked again: the address was sealed in the transaction when the flow began.
  const std::string return_to = returnTo(s, portal_return);
  const auto where = s.oidc.landingOf(landing);
  if (!where.mfa_token.empty()) {
    const auto csrf = formToken(c);
    return attach(pages::htmlReturning(
                      c, 200, mfaPage(c, csrf.token, where.mfa_token, return_to, {}), return_to),
                  csrf);
  }
  if (where.code.empty()) {
    // The reason is in the log and the audit trail; the person learns only that it failed, or
    // (their own identity, removed from an account by a reset) how to link it again.
    return seeOther(
        "/ui/login" + returnQuery(return_to) + (return_to.empty() ? "?" : "&") +
        (where.error == "identity_removed" ? "error=identity_removed" : "error=external"));
  }
  const auto client = clientOf(c.request);
  // Another browser than the one that began (no binding, or another one) has no verifier, or the
  // wrong one: the code is spent and nobody signed in. Without a binding a random verifier goes
  // in, never none: a code begun unbound (on a node of the version before, in a roll-out) is
  // refused too, not traded (a review).
  auto verifier = externalVerifier(c);
  if (!verifier) {
    auto random = crypto::randomToken(32);
    if (!random)
      return pages::pageRefusal(
          s, c.request,
          errorResponse({auth::Errc::Unavailable, "random source failed", {}, 0}, c.request));
    verifier = std::move(*random);
  }
  auto who = s.oidc.exchange(where.code, client, verifier);
  if (!who) {
    const auto csrf = formToken(c);
    return refused(who.error(), c.request, [&](int status, std::string_view text) {
      return attach(
          pages::htmlReturning(c, status, loginPage(c, csrf.token, {return_to, text}), return_to),
          csrf);
    });
  }
  if (who->user.mfa_enabled && !auth::namesSecondFactor(who->grant.amr))
    return askSecondFactor(c, *who, return_to);
  return finishSignIn(c, *who, return_to);
}

void addUiPortalRoutes(RouteTable& t) {
  const auto page = [&t](std::string path, std::string summary, RouteHandler handler,
                         Lane lane = Lane::Storage) {
    t.add({.method = "GET",
           .path = std::move(path),
           .credential = Credential::None,
           .lane = lane,
           .summary = std::move(summary),
           .tag = "pages",
           .replies = {{200, "The page", ""}},
           .hidden = true,
           .handler = std::move(handler)});
  };
  // The API routes' own limits, counted under the same names (one budget for page and API).
  const auto limits = [&t](std::string_view method, std::string_view path) {
    return pages::limitsOf(t, method, path);
  };
  // The API login's password-grant rule, for every post of the portal's form.
  std::vector<RateLimitRule> login_limits;
  for (auto rule : limits("POST", "/api/v1/auth/login")) {
    if (rule.name != "login") continue;
    rule.applies = nullptr;
    login_limits.push_back(std::move(rule));
  }
  page("/ui", "The pages' home (to the account page)", home);
  page("/ui/login", "The sign-in portal", showLogin, Lane::Inline);  // see showLogin
  t.add({.method = "POST",
         .path = "/ui/login",
         .credential = Credential::None,
         .lane = Lane::Hashing,
         .summary = "The portal's password step (the API's login counters and lockout)",
         .tag = "pages",
         .body = BodyKind::Form,
         .body_schema = "LoginForm",
         .replies = {{303, "Signed in: to the return address", ""},
                     {200, "The second factor's page", ""},
                     {401, "Incorrect email or password", ""}},
         .limits = login_limits,
         .csrf = true,
         .hidden = true,
         .handler = submitLogin});
  t.add({.method = "POST",
         .path = "/ui/login/mfa",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "The portal's second-factor step",
         .tag = "pages",
         .body = BodyKind::Form,
         .body_schema = "MfaVerifyRequest",
         .replies = {{303, "Signed in: to the return address", ""}, {401, "Invalid code", ""}},
         .limits = limits("POST", "/api/v1/auth/mfa/verify"),
         .csrf = true,
         .hidden = true,
         .handler = submitMfa});
  t.add({.method = "POST",
         .path = "/ui/login/passkey",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "The portal's passwordless sign-in with a passkey",
         .tag = "pages",
         .body = BodyKind::Form,
         .body_schema = "PasskeyCredentialRequest",
         .replies = {{303, "Signed in: to the return address", ""}, {401, "Invalid passkey", ""}},
         .limits = limits("POST", "/api/v1/auth/webauthn/login"),
         .csrf = true,
         .hidden = true,
         .handler = submitPasskey});
  t.add({.method = "POST",
         .path = "/ui/login/mfa/passkey",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "The portal's second-factor step with a passkey",
         .tag = "pages",
         .body = BodyKind::Form,
         .body_schema = "PasskeyMfaRequest",
         .replies = {{303, "Signed in: to the return address", ""}, {401, "Invalid code", ""}},
         .limits = limits("POST", "/api/v1/auth/webauthn/mfa"),
         .csrf = true,
         .hidden = true,
         .handler = submitMfaPasskey});
  t.add({.method = "GET",
         .path = "/ui/login/external/{provider}",
         .credential = Credential::None,
         .lane = Lane::Outbound,  // asks the provider, as the API's start does
         .summary = "Sign in with an external provider, from the portal",
         .tag = "pages",
         .replies = {{302, "To the provider", ""}},
         .limits = limits("GET", "/api/v1/auth/oauth/{provider}"),
         .hidden = true,
         .handler = external});
  page("/ui/register", "Create an account", showRegister);
  t.add({.method = "POST",
         .path = "/ui/register",
         .credential = Credential::None,
         .lane = Lane::Hashing,
         .summary = "Create an account (the API's registration rules and limit)",
         .tag = "pages",
         .body = BodyKind::Form,
         .body_schema = "RegisterRequest",
         .replies = {{303, "Signed in", ""}, {201, "Check your email", ""}},
         .limits = limits("POST", "/api/v1/auth/register"),
         .csrf = true,
         .hidden = true,
         .handler = submitRegister});
  page("/ui/forgot-password", "Ask for a password reset link", showForgot);
  t.add({.method = "POST",
         .path = "/ui/forgot-password",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Ask for a password reset link (the same answer for every address)",
         .tag = "pages",
         .body = BodyKind::Form,
         .body_schema = "ForgotPasswordRequest",
         .replies = {{200, "The same notice for every address", ""}},
         .limits = limits("POST", "/api/v1/auth/password/forgot"),
         .csrf = true,
         .hidden = true,
         .handler = submitForgot});
  t.add({.method = "GET",
         .path = "/ui/logout",
         .credential = Credential::Session,
         .lane = Lane::Storage,
         .before_mfa_enrolment = true,
         .summary = "Sign out: the confirmation page",
         .tag = "pages",
         .replies = {{200, "The page", ""}},
         .hidden = true,
         .handler = showLogout});
  t.add({.method = "POST",
         .path = "/ui/logout",
         .credential = Credential::Session,
         .lane = Lane::Storage,
         .before_mfa_enrolment = true,
         .summary = "Sign out: ends this browser's session",
         .tag = "pages",
         .body = BodyKind::Form,
         .body_schema = "CsrfForm",
         .replies = {{303, "To /ui/login", ""}},
         .csrf = true,
         .hidden = true,
         .handler = submitLogout});
}

}  // namespace gatehouse::api
