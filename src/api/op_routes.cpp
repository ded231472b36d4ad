// Gatehouse as an OpenID Provider (API.md, Gatehouse as an OpenID Provider): /oauth2/* and the
// discovery document. The protocol lives in op::Provider; this file turns requests into its
// calls and its answers into redirects, pages and OAuth JSON.
#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/value_from.hpp>

#include "api/body.hpp"
#include "api/page_support.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/claims.hpp"
#include "core/base64url.hpp"
#include "core/log.hpp"
#include "core/uri_path.hpp"
#include "op/provider.hpp"
#include "op/uris.hpp"
#include "rbac/policy.hpp"
#include "ui/pages.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;
using http::Lane;
using op::OpErrc;
using op::OpError;

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr std::size_t kMaxParams = 64;
// The consent form's field for Provider::consentMarker.
constexpr std::string_view kShownField = "shown";

// RFC 6749 §5.2 and RFC 6750 §3.1 statuses.
int statusOf(OpErrc code) {
  switch (code) {
    case OpErrc::InvalidClient:
    case OpErrc::InvalidToken:
      return 401;
    case OpErrc::InsufficientScope:
      return 403;
    case OpErrc::ServerError:
      return 500;
    case OpErrc::TemporarilyUnavailable:
      return 503;
    default:
      return 400;
  }
}

void logRefusal(const http::Request& r, const OpError& e) {
  spdlog::info("request_id={} oauth2 {}: {}", r.request_id, op::errorName(e.code),
               e.detail.empty() ? e.description : e.detail);
}

// {"error", "error_description"}, never cached.
http::Response oauthError(const http::Request& r, const OpError& e) {
  logRefusal(r, e);
  http::Response res = http::Response::json(
      statusOf(e.code),
      json::object{{"error", op::errorName(e.code)}, {"error_description", e.description}});
  res.set("Cache-Control", "no-store");
  res.set("Pragma", "no-cache");
  // RFC 6749 §5.2: a client that tried Basic gets the Basic challenge back; one that sent its
  // secret in the form gets it too, since a 401 names a scheme (RFC 9110 §15.5.2) and Basic is
  // the only one the endpoint takes (not the Bearer the pipeline would add).
  if (e.code == OpErrc::InvalidClient)
    res.set("WWW-Authenticate", "Basic realm=\"gatehouse\", charset=\"UTF-8\"");
  if (e.code == OpErrc::TemporarilyUnavailable) res.set("Retry-After", "1");
  return res;
}

http::Response noStoreJson(const json::object& body) {
  http::Response res = http::Response::json(200, body);
  res.set("Cache-Control", "no-store");
  res.set("Pragma", "no-cache");
  return res;
}

// 302 Found, as the authorization response is (RFC 6749 §4.1.2).
http::Response found(std::string location) { return pages::redirect(302, std::move(location)); }

// A form or query string's parameters; nullopt when malformed or when a parameter repeats
// (RFC 6749 §3.1 and §3.2: parameters MUST NOT be included more than once).
std::optional<Params> paramsOf(std::string_view text) {
  auto parsed = http::parseForm(text);
  // A request names a few parameters; thousands only cost work (checked before the pairs are).
  if (!parsed || parsed->size() > kMaxParams) return std::nullopt;
  std::vector<std::string_view> names;
  names.reserve(parsed->size());
  for (const auto& [name, value] : *parsed) names.emplace_back(name);
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end()) return std::nullopt;
  return parsed;
}

std::optional<std::string> lookup(const Params& params, std::string_view name) {
  for (const auto& [n, v] : params)
    if (n == name) return v;
  return std::nullopt;
}

bool isForm(const http::Request& r) { return mediaTypeIs(r, "application/x-www-form-urlencoded"); }

// /oauth2/authorize with `params` as its query, each percent-encoded, empty values kept: the
// request again, for the browser to send (after a sign-in, a POST, a consent post not taken).
std::string authorizeLocation(const Params& params) {
  std::string out = "/oauth2/authorize";
  char sep = '?';
  for (const auto& [name, value] : params) {
    out += sep + core::percentEncode(name) + "=" + core::percentEncode(value);
    sep = '&';
  }
  return out;
}

// A page for a person when no client can be trusted with the answer.
http::Response errorPage(Call& c, int status, std::string_view text) {
  return pages::html(c.services, status,
                     pages::render(c, "message", "Sign-in request refused",
                                   {{"message", text}, {"link", ""}, {"link_text", ""}}, ""));
}

// The page, or the redirect to the client, for a refused authorization request.
http::Response authorizeRefused(Call& c, const op::AuthorizeFailure& f) {
  logRefusal(c.request, f.error);
  if (f.redirect_uri.empty()) {
    const int status = statusOf(f.error.code);
    return errorPage(c, status, f.error.description);
  }
  return found(c.services.provider->errorLocation(f));
}

// The page itself, allowed to send its form's answer on to `source` (CSP form-action).
http::Response pageFor(Call& c, int status, std::string body, std::string_view source) {
  http::Response res = pages::html(c.services, status, std::move(body));
  if (!source.empty())
    res.set("Content-Security-Policy", ui::withFormAction(c.services.page_csp, source));
  return res;
}

// What each scope means to the person asked.
std::string_view scopeText(std::string_view scope) {
  if (scope == "openid") return "Know who you are";
  if (scope == "profile") return "See your username";
  if (scope == "email") return "See your email address";
  if (scope == "offline_access") return "Stay signed in when you are away";
  return "Act for you with this permission";
}

http::Response consentPage(Call& c, const op::Authorization& a, const op::AuthorizeRequest& r) {
  json::array scopes;
  for (const auto& s : a.scopes)
    scopes.push_back(json::object{{"name", s}, {"text", scopeText(s)}});
  json::array fields;
  for (auto& [name, value] : op::authorizeParams(r, true, {}))
    fields.push_back(json::object{{"name", name}, {"value", value}});
  const op::Provider& p = *c.services.provider;
  fields.push_back(
      json::object{{"name", kShownField},
                   {"value", p.consentMarker(p.now(), auth::sessionOf(c.who->claims()), r)}});
  const auto csrf = pages::formToken(c);
  // Where the answer goes, named: a client's name is whatever its registrar typed.
  std::string destination = op::formActionSource(a.redirect_uri);
  return pages::attach(pageFor(c, 200,
                               pages::render(c, "consent", "Allow access",
                                             {{"client", a.client.name},
                                              {"destination", destination},
                                              {"scopes", std::move(scopes)},
                                              {"fields", std::move(fields)}},
                                             csrf.token),
                               destination),
                       csrf);
}

// One authorization code for `user_id` at `client_id` against OP_CODE_RATE_LIMIT. Per client
// too: per account alone, any site could spend a signed-in visitor's budget with prompt=none
// navigations to one consented client and keep them out of every application for the window (a
// review). The audit log still grows at most by the registered clients' count times the limit.
auth::Result<void> spendCodeBudget(Call& c, std::int64_t user_id, std::string_view client_id) {
  return c.spend("OP_CODE_RATE_LIMIT",
                 "op-code:user-client:" + std::to_string(user_id) + "|" + std::string(client_id),
                 "op-code");
}

// Everything after the request checked out: sign-in, consent, the code.
http::Response continueAuthorize(Call& c, const op::Authorization& asked,
                                 const op::AuthorizeRequest& r, std::optional<bool> consent) {
  Services& s = c.services;
  op::Provider& p = *s.provider;
  const auto back = [&](OpErrc code, std::string text) {
    return authorizeRefused(c, {{code, std::move(text), {}}, asked.redirect_uri, asked.state});
  };
  const std::optional<auth::Principal> who = pages::signedIn(c);
  if (p.needsSignIn(asked, who ? &*who : nullptr)) {
    if (asked.prompt_none) return back(OpErrc::LoginRequired, "The user must sign in.");
    // Back here once signed in; prompt=login and max_age become "signed in after now".
    const bool mark = asked.prompt_login || asked.max_age.has_value();
    const std::string here = authorizeLocation(op::authorizeParams(
        p.sealHint(r), asked.prompt_login, mark ? p.loginAfterMarker(p.now(), r) : std::string()));
    if (here.size() > ui::ReturnTo::kMaxBytes)
      return back(OpErrc::InvalidRequest, "The request is too long.");
    std::string login = "/ui/login?return_to=" + core::percentEncode(here);
    if (who) login += "&reauth=1";
    if (!asked.login_hint.empty()) login += "&login_hint=" + core::percentEncode(asked.login_hint);
    return pages::seeOther(login);
  }
  // MFA_REQUIRED_ROLES, EMAIL_VERIFICATION=required: as at the token endpoint.
  if (auto due = p.accountDue(*who->user)) return back(OpErrc::AccessDenied, std::move(*due));
  // Only the permissions the user holds are asked for, consented to and granted (found by an
  // outside attack: a client allowed users:delete got it in a plain user's token and
  // introspection, which services that check scope offline took as the right).
  auto narrowed = p.withinRights(asked, *who);
  if (!narrowed) return authorizeRefused(c, {narrowed.error(), asked.redirect_uri, asked.state});
  const op::Authorization& a = *narrowed;
  if (!consent) {
    auto due = p.needsConsent(a, who->user->id);
    if (!due) return authorizeRefused(c, {due.error(), a.redirect_uri, a.state});
    if (*due) {
      if (a.prompt_none) return back(OpErrc::ConsentRequired, "The user must consent.");
      // The form's CSRF token is bound to this session, as /ui/consent checks it.
      c.who = &*who;
      return consentPage(c, a, r);
    }
  } else if (!*consent) {
    return back(OpErrc::AccessDenied, "The user denied the request.");
  } else if (auto saved = p.saveConsent(a, who->user->id); !saved) {
    return authorizeRefused(c, {saved.error(), a.redirect_uri, a.state});
  }
  // OP_CODE_RATE_LIMIT per account and client: each code and its exchange write audit records,
  // which are kept (an outside attack wrote 600 a minute from one signed-in account).
  if (auto spent = spendCodeBudget(c, who->user->id, a.client.client_id); !spent) {
    return back(OpErrc::TemporarilyUnavailable,
                spent.error().code == auth::Errc::RateLimited
                    ? "Too many sign-ins to this application for this account: try again later."
                    : "The server could not answer.");
  }
  auto location = p.issueCode(a, *who, clientOf(c.request));
  if (!location) return authorizeRefused(c, {location.error(), a.redirect_uri, a.state});
  // After a form (the consent page) 303 turns the POST into a GET.
  if (consent) return pages::seeOther(std::move(*location));
  return found(std::move(*location));
}

http::Response authorize(Call& c) {
  const http::Request& r = c.request;
  // Every request counts, malformed ones included (a flood of them is still a flood).
  if (auto refused = c.admit()) return std::move(*refused);
  if (r.method == "POST") {
    // A form post from the client's site: the same request as a GET, so the browser's
    // SameSite=Lax session cookie comes along.
    // A megabyte body became a three-megabyte Location (each space sent back as %20) for anyone,
    // before any check (found by an outside attack). 6 KiB: the GET the browser sends next must
    // fit the head's default 8 KiB with its cookies and the rest (a review: at 8 KiB it got a
    // bare 431), and holds every parameter at its own limit.
    constexpr std::size_t kMaxLocationBytes = 6U << 10U;
    // A body over three times that is refused before it is parsed (a review: a megabyte was
    // parsed and encoded first): each character of the Location takes at most three of the body
    // (%XX), so only one padded with empty fields (&&&) could have fitted.
    if (r.body.size() > 3 * kMaxLocationBytes)
      return errorPage(c, 400, "The sign-in request is too long.");
    const auto form = isForm(r) ? paramsOf(r.body) : std::nullopt;
    if (!form) return errorPage(c, 400, "The sign-in request is malformed.");
    // The authorization request's own parameters only, a valid ID token hint sealed (an outside
    // attack: every posted field, an id_token_hint and a client_secret sent by mistake among
    // them, went into the Location, the browser's history and a proxy's log). A request object
    // is named, empty, for the GET to refuse as such (it may hold a hint of its own).
    const auto posted =
        op::parseAuthorize([&](std::string_view name) { return lookup(*form, name); });
    Params kept = op::authorizeParams(c.services.provider->sealHint(posted), false, {});
    for (const char* name : {"request", "request_uri"})  // its presence, not its content
      if (lookup(*form, name)) kept.emplace_back(name, "");
    std::string location = authorizeLocation(kept);
    if (location.size() > kMaxLocationBytes)
      return errorPage(c, 400, "The sign-in request is too long.");
    return pages::seeOther(std::move(location));
  }
  auto params = paramsOf(r.query);
  if (!params) return errorPage(c, 400, "The sign-in request is malformed or repeats a parameter.");
  const auto request =
      op::parseAuthorize([&](std::string_view name) { return lookup(*params, name); });
  auto checked = c.services.provider->checkAuthorize(request);
  if (!checked) return authorizeRefused(c, checked.error());
  return continueAuthorize(c, *checked, request, std::nullopt);
}

http::Response consent(Call& c) {
  Body& body = *c.body;
  if (auto refused = c.admit()) return std::move(*refused);
  const auto field = [&](std::string_view name) -> std::optional<std::string> {
    const auto v = body.peekString(name);
    return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
  };
  // Only the answer to a page this session was shown, for this very request, after its
  // sign-in checks passed, is taken as it is. Any other (a page left open too long, one shown to
  // a session since replaced, one made up) is taken for a Deny (no grant can come of that), and
  // otherwise goes through the authorization request again, asking for consent: its sign-in
  // checks, then a fresh page (found by a review: the request alone could end in a code when
  // consent was no longer due, without anyone choosing Allow).
  const auto shown = body.peekString(kShownField);
  auto posted = op::parseAuthorize(field);
  // Answered when this page was shown: the sign-in was fresh enough then, and a person reading
  // the page must not be sent to sign in again (with max_age=0, for ever).
  auto request = posted;
  request.prompt.reset();
  request.max_age.reset();
  request.login_after.reset();
  if (c.who == nullptr || !shown ||
      !c.services.provider->consentShown(*shown, auth::sessionOf(c.who->claims()), posted)) {
    logRefusal(c.request, {OpErrc::InvalidRequest, {}, "consent form not shown to this session"});
    if (body.peekString("decision") == std::optional<std::string_view>("deny")) {
      auto checked = c.services.provider->checkAuthorize(request);
      if (!checked) return authorizeRefused(c, checked.error());
      return authorizeRefused(c, {{OpErrc::AccessDenied, "The user denied the request.", {}},
                                  checked->redirect_uri,
                                  checked->state});
    }
    const auto asked = auth::splitScopes(posted.prompt.value_or(""));
    const auto names = [&](std::string_view v) {
      return std::find(asked.begin(), asked.end(), v) != asked.end();
    };
    if (!names("none") && !names("consent"))
      posted.prompt = posted.prompt ? *posted.prompt + " consent" : "consent";
    std::string again =
        authorizeLocation(op::authorizeParams(c.services.provider->sealHint(posted), false, {}));
    if (again.size() > ui::ReturnTo::kMaxBytes)
      return errorPage(c, 400, "The sign-in request is too long.");
    return pages::seeOther(std::move(again));
  }
  auto checked = c.services.provider->checkAuthorize(request);
  if (!checked) return authorizeRefused(c, checked.error());
  const auto decision = body.peekString("decision");
  if (!decision || (*decision != "allow" && *decision != "deny"))
    return errorPage(c, 400, "Choose Allow or Deny.");
  return continueAuthorize(c, *checked, request, *decision == "allow");
}

// RFC 6749 §2.3.1: Basic (each part form-urlencoded) or client_id/client_secret in the body;
// never both.
tl::expected<op::ClientCredentials, OpError> clientCredentialsOf(const http::Request& r,
                                                                 const Params& params) {
  op::ClientCredentials cred;
  const auto body_id = lookup(params, "client_id");
  const auto body_secret = lookup(params, "client_secret");
  if (const auto header = r.header("authorization")) {
    if (const auto credentials = authorizationCredentials(*header, "basic")) {
      const auto decoded = core::base64Decode(*credentials);
      const auto colon = decoded ? decoded->find(':') : std::string::npos;
      if (colon == std::string::npos)
        return tl::unexpected(OpError{OpErrc::InvalidClient, "Client authentication failed.",
                                      "malformed Basic credentials"});
      const auto id = http::percentDecode(std::string_view(*decoded).substr(0, colon), true);
      const auto secret = http::percentDecode(std::string_view(*decoded).substr(colon + 1), true);
      if (!id || !secret)
        return tl::unexpected(OpError{OpErrc::InvalidClient, "Client authentication failed.",
                                      "malformed Basic credentials"});
      if (body_secret || (body_id && *body_id != *id))
        return tl::unexpected(
            OpError{OpErrc::InvalidRequest, "Use one client authentication method.", {}});
      cred.client_id = *id;
      cred.secret = *secret;
      cred.basic = true;
      return cred;
    }
  }
  if (!body_id || body_id->empty())
    return tl::unexpected(
        OpError{OpErrc::InvalidClient, "Client authentication failed.", "no client_id"});
  cred.client_id = *body_id;
  cred.secret = body_secret;
  return cred;
}

// The request's form and its authenticated client, or the OAuth error to answer.
struct ClientCall {
  Params params;
  store::OpClient client;
};
tl::expected<ClientCall, http::Response> authenticateClient(Call& c) {
  const http::Request& r = c.request;
  if (auto refused = c.admit()) return tl::unexpected(std::move(*refused));
  if (!isForm(r))
    return tl::unexpected(oauthError(
        r, {OpErrc::InvalidRequest, "The body must be application/x-www-form-urlencoded.", {}}));
  auto params = paramsOf(r.body);
  if (!params)
    return tl::unexpected(oauthError(
        r, {OpErrc::InvalidRequest, "The form is malformed or repeats a parameter.", {}}));
  auto cred = clientCredentialsOf(r, *params);
  if (!cred) return tl::unexpected(oauthError(r, cred.error()));
  auto client = c.services.provider->clients().authenticate(*cred);
  if (!client) {
    const bool down = client.error().code == core::Errc::Unavailable;
    return tl::unexpected(oauthError(
        r, {down ? OpErrc::TemporarilyUnavailable : OpErrc::InvalidClient,
            down ? "The service is unavailable. Try again." : "Client authentication failed.",
            client.error().message}));
  }
  return ClientCall{std::move(*params), std::move(*client)};
}

http::Response token(Call& c) {
  auto call = authenticateClient(c);
  if (!call) return std::move(call.error());
  const Params& p = call->params;
  op::TokenRequest request{
      lookup(p, "grant_type").value_or(""), lookup(p, "code"),          lookup(p, "redirect_uri"),
      lookup(p, "code_verifier"),           lookup(p, "refresh_token"), lookup(p, "scope")};
  auto answer = c.services.provider->token(request, call->client, clientOf(c.request));
  if (!answer) return oauthError(c.request, answer.error());
  return noStoreJson(*answer);
}

// RFC 6750 §3: the Bearer challenge, with the error when a token was presented.
http::Response bearerRefusal(const http::Request& r, const OpError& e) {
  http::Response res = oauthError(r, e);
  std::string challenge = "Bearer realm=\"gatehouse\"";
  if (e.code == OpErrc::InvalidToken || e.code == OpErrc::InsufficientScope ||
      e.code == OpErrc::InvalidRequest)
    challenge += ", error=\"" + std::string(op::errorName(e.code)) + "\"";
  res.set("WWW-Authenticate", challenge);
  return res;
}

http::Response userinfo(Call& c) {
  const http::Request& r = c.request;
  std::optional<std::string> token;
  if (const auto header = r.header("authorization")) {
    if (const auto value = authorizationCredentials(*header, "bearer")) token = std::string(*value);
  }
  if (r.method == "POST" && isForm(r)) {
    auto params = paramsOf(r.body);
    if (!params) return bearerRefusal(r, {OpErrc::InvalidRequest, "The form is malformed.", {}});
    if (auto in_body = lookup(*params, "access_token")) {
      // RFC 6750 §2: one method only.
      if (token) return bearerRefusal(r, {OpErrc::InvalidRequest, "Send the token once.", {}});
      token = std::move(in_body);
    }
  }
  if (!token) {
    http::Response res = oauthError(r, {OpErrc::InvalidToken, "An access token is required.", {}});
    res.set("WWW-Authenticate", "Bearer realm=\"gatehouse\"");
    return res;
  }
  auto claims = c.services.provider->userinfo(*token);
  if (!claims) return bearerRefusal(r, claims.error());
  return noStoreJson(*claims);
}

http::Response introspect(Call& c) {
  auto call = authenticateClient(c);
  if (!call) return std::move(call.error());
  const auto token = lookup(call->params, "token");
  if (!token) return oauthError(c.request, {OpErrc::InvalidRequest, "token is required.", {}});
  auto answer = c.services.provider->introspect(*token, call->client);
  if (!answer) return oauthError(c.request, answer.error());
  return noStoreJson(*answer);
}

http::Response revoke(Call& c) {
  auto call = authenticateClient(c);
  if (!call) return std::move(call.error());
  const auto token = lookup(call->params, "token");
  if (!token) return oauthError(c.request, {OpErrc::InvalidRequest, "token is required.", {}});
  if (auto done = c.services.provider->revoke(*token, call->client, clientOf(c.request)); !done)
    return oauthError(c.request, done.error());
  http::Response res = http::Response::empty(200);
  res.set("Cache-Control", "no-store");
  return res;
}

// Signed out: on to the client's registered address, or our page.
http::Response signedOut(Call& c, const op::LogoutPlan& plan,
                         const std::optional<auth::Principal>& who) {
  Services& s = c.services;
  if (who) {
    if (auto ended = s.browser->end(*who, clientOf(c.request)); !ended)
      return pages::pageRefusal(s, c.request, errorResponse(ended.error(), c.request));
  }
  // The page is shown to nobody signed in: no name and no sign-out form in its header (a review).
  c.who = nullptr;
  http::Response res = plan.redirect.empty()
                           ? pages::html(s, 200,
                                         pages::render(c, "message", "Signed out",
                                                       {{"message", "You have signed out."},
                                                        {"link", "/ui/login"},
                                                        {"link_text", "Sign in again"}},
                                                       ""))
                           : pages::seeOther(plan.redirect);
  pages::clearSignIn(res, s);
  return res;
}

http::Response logout(Call& c) {
  const http::Request& r = c.request;
  std::optional<Params> params;
  if (r.method == "POST") {
    if (!isForm(r)) return errorPage(c, 400, "The sign-out request is malformed.");
    params = paramsOf(r.body);
  } else {
    params = paramsOf(r.query);
  }
  if (!params)
    return errorPage(c, 400, "The sign-out request is malformed or repeats a parameter.");
  op::LogoutRequest request{lookup(*params, "id_token_hint"),
                            lookup(*params, "post_logout_redirect_uri"), lookup(*params, "state"),
                            lookup(*params, "client_id")};
  auto plan = c.services.provider->checkLogout(request);
  if (!plan) {
    logRefusal(r, plan.error());
    return errorPage(c, statusOf(plan.error().code), plan.error().description);
  }
  const std::optional<auth::Principal> who = pages::signedIn(c);
  // The confirmation form's CSRF token is bound to the session it ends.
  if (who) c.who = &*who;
  // The confirmation page's own form: a person said yes in this browser.
  if (r.method == "POST" && lookup(*params, "confirm") == "yes") {
    if (ui::crossSite(r.header("origin"), r.header("sec-fetch-site"),
                      c.services.return_to != nullptr ? c.services.return_to->ownOrigin() : "") ||
        !pages::csrfValid(c, lookup(*params, "csrf").value_or("")))
      return errorPage(c, 403, "The sign-out form has expired. Try again.");
    return signedOut(c, *plan, who);
  }
  // A valid hint issued under the sign-in this browser has (its user, its auth_time), or nobody
  // signed in: no question to ask. Any other hint is a question: found by an outside attack, a
  // relying party holding an ID token from an earlier sign-in could end any later one at will.
  if (!who || (plan->hint_user && *plan->hint_user == who->user->id &&
               plan->hint_auth_time == auth::authTimeOf(who->claims())))
    return signedOut(c, *plan, who);
  json::array fields;
  for (const char* name : {"post_logout_redirect_uri", "state", "client_id"}) {
    if (auto v = lookup(*params, name))
      fields.push_back(json::object{{"name", name}, {"value", *v}});
  }
  if (!lookup(*params, "client_id") && !plan->client_name.empty() && request.id_token_hint)
    fields.push_back(json::object{{"name", "id_token_hint"}, {"value", *request.id_token_hint}});
  const auto csrf = pages::formToken(c);
  return pages::attach(
      pageFor(
          c, 200,
          pages::render(c, "op-logout", "Sign out",
                        {{"client", plan->client_name}, {"fields", std::move(fields)}}, csrf.token),
          plan->redirect.empty() ? std::string() : op::formActionSource(plan->redirect)),
      csrf);
}

http::Response configuration(Call& c) {
  Services& s = c.services;
  const op::OpTokens& t = s.provider->tokens();
  const std::string& base = t.settings().issuer;
  json::array scopes;
  for (const auto& scope : s.provider->clients().scopes()) scopes.emplace_back(scope);
  auto res = http::Response::json(
      200,
      json::object{
          {"issuer", base},
          {"authorization_endpoint", base + "/oauth2/authorize"},
          {"token_endpoint", base + "/oauth2/token"},
          {"userinfo_endpoint", base + "/oauth2/userinfo"},
          {"jwks_uri", base + "/.well-known/jwks.json"},
          {"end_session_endpoint", base + "/oauth2/logout"},
          {"revocation_endpoint", base + "/oauth2/revoke"},
          {"introspection_endpoint", base + "/oauth2/introspect"},
          {"scopes_supported", std::move(scopes)},
          {"response_types_supported", json::array{"code"}},
          {"response_modes_supported", json::array{"query"}},
          {"grant_types_supported",
           json::array{"authorization_code", "refresh_token", "client_credentials"}},
          {"subject_types_supported", json::array{"public"}},
          {"id_token_signing_alg_values_supported", json::array{"RS256"}},
          {"token_endpoint_auth_methods_supported",
           json::array{"client_secret_basic", "client_secret_post", "none"}},
          {"revocation_endpoint_auth_methods_supported",
           json::array{"client_secret_basic", "client_secret_post", "none"}},
          {"introspection_endpoint_auth_methods_supported",
           json::array{"client_secret_basic", "client_secret_post"}},
          {"claim_types_supported", json::array{"normal"}},
          {"code_challenge_methods_supported", json::array{"S256"}},
          {"claims_supported",
           json::array{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
                       "at_hash", "sid", "email", "email_verified", "preferred_username", "name"}},
          {"claims_parameter_supported", false},
          {"request_parameter_supported", false},
          {"request_uri_parameter_supported", false},
          {"require_request_uri_registration", false},
          {"authorization_response_iss_parameter_supported", true},
          {"prompt_values_supported", json::array{"none", "login", "consent", "select_account"}},
          {"acr_values_supported", json::array{"1", "2"}},
          {"frontchannel_logout_supported", false},
          {"backchannel_logout_supported", false},
      });
  res.set("Cache-Control", "public, max-age=300");
  return res;
}

RateLimitRule opLimit(std::string name) {
  return {"OP_RATE_LIMIT", std::move(name), {LimitKey::ClientAddress}, {}, nullptr};
}

// Where a code may be issued: per account too (spendCodeBudget).
RateLimitRule codeLimit() {
  return {
      "OP_CODE_RATE_LIMIT", "op-code", {LimitKey::CodeAccount}, "when a code is issued", nullptr};
}

// A node whose MFA_SECRET_KEY does not open the provider's stored key has no provider: 503.
RouteHandler needsProvider(RouteHandler handler, bool page) {
  return [handler = std::move(handler), page](Call& c) {
    if (c.services.provider != nullptr) return handler(c);
    const OpError off{OpErrc::TemporarilyUnavailable,
                      "The OpenID Provider is not available on this server.",
                      "no provider: this node's MFA_SECRET_KEY does not open its key"};
    if (!page) return oauthError(c.request, off);
    logRefusal(c.request, off);
    http::Response res = errorPage(c, 503, off.description);
    res.set("Retry-After", "1");
    return res;
  };
}

}  // namespace

void addOpRoutes(RouteTable& t) {
  t.add({.method = "GET",
         .path = "/.well-known/openid-configuration",
         .credential = Credential::None,
         .lane = Lane::Inline,
         .summary = "OpenID Provider metadata (OpenID Connect Discovery 1.0)",
         .tag = "openid provider",
         .replies = {{200, "The provider's metadata", "ProviderMetadata"},
                     {503, "No provider on this node, or storage or Redis unreachable",
                      "OAuthUnavailable"}},
         .handler = needsProvider(configuration, false)});
  for (const char* method : {"GET", "POST"}) {
    t.add({.method = method,
           .path = "/oauth2/authorize",
           .credential = Credential::None,
           .lane = Lane::Storage,
           .summary = "Authorization endpoint: code flow with PKCE (sign-in and consent pages)",
           .tag = "openid provider",
           .description =
               "OIDC Core §3.1.2. response_type=code only; PKCE S256 (required of public "
               "clients); state, nonce, prompt (none, login, consent), max_age, login_hint, "
               "id_token_hint; request objects are refused. A POST goes on as a GET of its "
               "authorization parameters, a valid id_token_hint sealed as hint_sub. Errors go "
               "back to a registered redirect_uri with iss (RFC 9207), or to a page when the "
               "client or URI is unknown.",
           .replies = {{302, "To the client with code, state and iss, or an error", ""},
                       {303, "To the sign-in page, or the GET form of a POST", ""},
                       {200, "The consent page", ""},
                       {400, "A page: unknown client or redirect URI", ""},
                       {429, "Too many requests", "ErrorDetail"}},
           .limits = {opLimit("oauth2_authorize"), codeLimit()},
           .handler = needsProvider(authorize, true)});
  }
  t.add({.method = "POST",
         .path = "/ui/consent",
         .credential = Credential::Session,
         .lane = Lane::Storage,
         .summary = "The consent page's form: allow or deny a client",
         .tag = "openid provider",
         .body = BodyKind::Form,
         .body_schema = "CsrfForm",
         .replies = {{303, "To the client with a code, or access_denied", ""}},
         .limits = {opLimit("oauth2_consent"), codeLimit()},
         .csrf = true,
         .hidden = true,
         .handler = needsProvider(consent, true)});
  t.add(
      {.method = "POST",
       .path = "/oauth2/token",
       .credential = Credential::None,
       .lane = Lane::Storage,
       .summary = "Token endpoint: authorization_code, refresh_token, client_credentials",
       .tag = "openid provider",
       .description =
           "RFC 6749 §4.1.3, §4.4, §6. Clients authenticate with client_secret_basic or "
           "client_secret_post (public clients send client_id alone, with PKCE). Access tokens "
           "are RFC 9068 JWTs; ID tokens are RS256.",
       .replies = {{200, "Tokens", "OAuthTokenResponse"},
                   {400, "invalid_request, invalid_grant, unauthorized_client, ...", "OAuthError"},
                   {401, "invalid_client", "OAuthError"},
                   {429, "Too many requests", "ErrorDetail"},
                   {503, "No provider on this node, or storage or Redis unreachable",
                    "OAuthUnavailable"}},
       .limits = {opLimit("oauth2_token")},
       .handler = needsProvider(token, false)});
  for (const char* method : {"GET", "POST"}) {
    t.add({.method = method,
           .path = "/oauth2/userinfo",
           .credential = Credential::None,
           .lane = Lane::Storage,
           .summary = "UserInfo endpoint (OIDC Core §5.3): the claims the token's scopes allow",
           .tag = "openid provider",
           .replies = {{200, "Claims", "UserInfo"},
                       {400, "invalid_request: the token sent twice, or a malformed form",
                        "OAuthError"},
                       {401, "No or a bad token (Bearer challenge)", "OAuthError"},
                       {403, "insufficient_scope", "OAuthError"},
                       {503, "No provider on this node, or storage or Redis unreachable",
                        "OAuthUnavailable"}},
           .handler = needsProvider(userinfo, false)});
    t.add({.method = method,
           .path = "/oauth2/logout",
           .credential = Credential::None,
           .lane = Lane::Storage,
           .summary = "RP-initiated logout: ends the portal session",
           .tag = "openid provider",
           .description =
               "OpenID Connect RP-Initiated Logout 1.0. With a valid id_token_hint for the "
               "signed-in user the session ends at once; otherwise a confirmation page asks. "
               "Only a registered post_logout_redirect_uri is followed.",
           .replies = {{303, "To the registered post_logout_redirect_uri", ""},
                       {200, "The confirmation or signed-out page", ""},
                       {400, "A page: bad hint or unregistered URI", ""},
                       {403, "A page: the confirmation form posted cross-site or expired", ""}},
           .handler = needsProvider(logout, true)});
  }
  t.add({.method = "POST",
         .path = "/oauth2/revoke",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Token revocation (RFC 7009), for the client the token was issued to",
         .tag = "openid provider",
         .replies = {{200, "Revoked, or not the client's token (ignored)", ""},
                     {400, "invalid_request (no token, a malformed form)", "OAuthError"},
                     {401, "invalid_client", "OAuthError"},
                     {503, "No provider on this node, or storage or Redis unreachable",
                      "OAuthUnavailable"}},
         .limits = {opLimit("oauth2_revoke")},
         .handler = needsProvider(revoke, false)});
  t.add({.method = "POST",
         .path = "/oauth2/introspect",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Token introspection (RFC 7662): a client learns only of its own tokens",
         .tag = "openid provider",
         .replies = {{200, "Active with claims, or {\"active\": false}", "Introspection"},
                     {400, "invalid_request (no token, a malformed form)", "OAuthError"},
                     {401, "invalid_client", "OAuthError"},
                     {503, "No provider on this node, or storage or Redis unreachable",
                      "OAuthUnavailable"}},
         .limits = {opLimit("oauth2_introspect")},
         .handler = needsProvider(introspect, false)});
}

}  // namespace gatehouse::api
