#pragma once

// What the pages' routes share (API.md, Pages for people): HTML answers, cookies, the forms'
// CSRF tokens, the viewer, the contract's words for a refusal.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "api/route.hpp"
#include "api/services.hpp"

namespace gatehouse::api::pages {

// An HTML answer with the pages' CSP (Services::page_csp), no caching and a referrer kept to
// this origin.
http::Response html(const Services& s, int status, std::string body);
// html() for a portal page whose form returns to `return_to`: when that is an OpenID client's
// authorization request (/oauth2/authorize), the page's form-action also allows the client's
// registered redirect URI, where the answer's redirects end. That URI is read from the client
// store: on an I/O thread such a page sets `c.wants_worker` and gives a blank answer, which the
// handler returns as it is (the middleware never sends it; a worker renders the page again). An
// inline handler therefore calls it only before any effect.
http::Response htmlReturning(Call& c, int status, std::string body, std::string_view return_to);
// A redirect (`status` 302 or 303) to `location`, never cached.
http::Response redirect(int status, std::string location);
// 303 See Other to `location` (a path of ours or a checked return address).
http::Response seeOther(std::string location);

// The value of cookie `name` in the request's Cookie headers; nullopt when absent. Sent with two
// values (a sibling subdomain or a plain-HTTP hop can plant a second one with another Path or
// Domain, which the browser sends first), an empty value: no one's, rather than the planted
// one's (found by an outside attack: forward-auth took the first, the planter's session). The
// same value twice (a host-only and a Domain cookie) is that value.
std::optional<std::string_view> cookie(const http::Request& request, std::string_view name);
// Whether the request carries cookie `name` with two different values.
bool cookieSentTwice(const http::Request& request, std::string_view name);
// A Set-Cookie value: HttpOnly, SameSite=Lax, Path=/, Secure unless the server is plain-HTTP
// localhost; SESSION_COOKIE_DOMAIN when set, unless `host_only`; max_age 0 deletes it.
std::string cookieHeader(const Services& s, std::string_view name, std::string_view value,
                         std::int64_t max_age, bool host_only = false);
void addCookie(http::Response& response, std::string value);
// The name of one of the pages' host-only cookies: "__Host-" + `base` when cookies are Secure,
// so that no sibling subdomain can set it.
std::string hostCookie(const Services& s, std::string_view base);

// The browser's sign-in is two cookies. gatehouse_session (SESSION_COOKIE_DOMAIN: every
// application behind forward-auth receives it) is forward-auth's credential; the pages also want
// the host-only portal cookie, an HMAC of the session id, which never leaves this host: an
// application that read gatehouse_session cannot use it on the account page or the console.
void setSignIn(http::Response& response, const Services& s, const std::string& session_cookie,
               const std::string& session_id);
void clearSignIn(http::Response& response, const Services& s);
// The principal of the request's sign-in cookies: `for_pages` also wants the portal cookie.
// NotAuthenticated without cookies; the browser session's refusals; WouldBlock with Wait::No.
[[nodiscard]] auth::Result<auth::Principal> cookiePrincipal(Services& s, const http::Request& r,
                                                            bool for_pages, core::Wait wait);

// The CSRF token of the forms on the page being made: bound to the viewer's session when the
// route authenticated one, else to this browser's gatehouse_csrf cookie (made, and set on the
// answer by attach(), when the browser has none yet).
struct FormToken {
  std::string token;
  std::optional<std::string> new_cookie;  // Set-Cookie value to send
};
FormToken formToken(const Call& c);
// This browser's binding before sign-in: the gatehouse_csrf cookie's value (a host-only cookie a
// sibling subdomain cannot set), made when it has none, and the Set-Cookie that keeps it.
// nullopt when the random source fails.
struct BrowserBinding {
  std::string value;
  std::string set_cookie;
};
std::optional<BrowserBinding> browserBinding(const Call& c);
// The PKCE verifier binding an external sign-in the portal begins to the browser that began it,
// keyed from its binding (`binding`, or the request's cookie): nullopt without one. A callback
// opened in another browser (a planted transaction cookie: login CSRF) has no verifier to match.
std::optional<std::string> externalVerifier(const Call& c,
                                            std::optional<std::string_view> binding = {});
http::Response attach(http::Response response, const FormToken& token);
// Whether the posted `csrf` field is the token for this request's binding (constant time).
bool csrfValid(const Call& c, std::string_view presented);

// The notice a finished form shows on the page it returns to (`?done=<key>`): a fixed text
// from `texts`, "" for any other key, so a link cannot put words on a page.
using Notices = std::span<const std::pair<std::string_view, std::string_view>>;
std::string_view notice(Notices texts, std::optional<std::string_view> key);

// A page: the view (ui/views.hpp) with `data`, the brand, `title`, the forms' CSRF token and,
// when the route authenticated one, the viewer (the header's links and sign-out form).
std::string render(const Call& c, std::string_view view, std::string_view title,
                   boost::json::object data, std::string_view csrf);
// A time for a view: {"iso": RFC 3339, "text": "2026-12-02 00:43 UTC"}.
boost::json::object when(std::int64_t unix_seconds);
// The permissions that open the console, any one of them (not users:read, which every user has).
inline constexpr std::string_view kConsolePermissions[] = {"users:write", "analytics:view"};
// Whether `who` may open the console.
bool mayUseConsole(const auth::Principal& who);

// The cookie's principal on a route that does not require one (the portal's own pages): the
// signed-in browser, or nothing. On an I/O thread, a session that is not in memory sets
// `c.wants_worker` (and gives nothing): the handler then returns at once.
std::optional<auth::Principal> signedIn(Call& c);

// The "detail" of an API answer (a string, or a validation list made readable).
std::string detailOf(const http::Response& answer);

// `page` with the Retry-After of the API answer `api`, when it has one.
http::Response keepRetryAfter(http::Response page, const http::Response& api);

// A route's limit refused the request (429, or 503 when the counters are unreachable): the
// page `render(status, text)` makes, with the refusal's Retry-After.
template <class Render>
http::Response limited(const http::Response& refused, Render&& render) {
  return keepRetryAfter(
      render(refused.status, refused.status == 429
                                 ? "Too many attempts. Wait a little and try again."
                                 : "The service is unavailable. Try again in a moment."),
      refused);
}

// A service's refusal as the page `render(status, text)` makes: the API's answer made once (so
// its detail is logged once, with the request id), its status, its words, its Retry-After.
template <class Render>
http::Response refused(const auth::Error& error, const http::Request& request, Render&& render) {
  const http::Response api = errorResponse(error, request);
  return keepRetryAfter(render(api.status, detailOf(api)), api);
}

// The contract's message for a refusal (the API's "detail", logged there with the request id).
std::string refusalText(const auth::Error& error, const http::Request& request);

// A return address from `candidate` (`return_to`, or `rd`), checked; "" when none is acceptable.
std::string returnTo(const Services& s, std::string_view candidate);

// Whether forward-auth is asked about a person's page navigation: Sec-Fetch-Mode navigate, or
// without that header an Accept naming text/html.
bool pageNavigation(const http::Request& request);
// The same, narrower: Sec-Fetch-Mode navigate, or without it the Accept a browser sends for a
// page (text/html with application/xhtml+xml). Java's HttpURLConnection, and programs on it,
// send an Accept naming text/html too: they are not people.
bool browserNavigation(const http::Request& request);

// Forward-auth for browsers: when `refused` (a 401) answers a page navigation that asked for it
// (?rd), points it at the portal with the original URL as return_to (302 for Traefik, which
// passes the answer on; 401 with Location for nginx's auth_request_set). Only to return
// addresses that ALLOWED_RETURN_URLS allows.
// `again`: a signed-in browser whose sign-in is not enough (a route rule wants a second factor).
// Never for a request that carried a token or key.
void sendToPortal(const Services& s, const http::Request& request, http::Response& refused,
                  bool again = false);

// The page a middleware refusal becomes on a page route (a JSON answer would mean nothing to a
// person): sign-in for a missing or ended session, a short page otherwise.
http::Response pageRefusal(const Services& s, const http::Request& request, http::Response refused);

// A page's form for what an API route does: POST `page_path` with the session cookie, a form
// body and the CSRF check, and the API route's own rules copied from its declaration
// (permissions, lane, step-up, MFA enrolment rule, rate limits), so the two cannot drift apart.
// The API route must already be in the table.
void addForm(RouteTable& table, std::string_view api_method, std::string_view api_path,
             std::string page_path, std::string summary, RouteHandler handler);

// Whether an API handler's refusal means the browser must sign in (again): its session ended or
// a step-up is due. Other refusals (a wrong code, a wrong password) belong on the page.
bool needsSignIn(const http::Response& answer);

// The rate limits an API route declares (it must be in the table already): a page doing what the
// route does counts under the same rules and names.
std::vector<RateLimitRule> limitsOf(const RouteTable& table, std::string_view api_method,
                                    std::string_view api_path);

// The end of an external sign-in the portal began (oidc_routes' callback): the browser signed
// in (or asked for its second factor) and sent to `portal_return`, or back to /ui/login with a
// short reason. `landing` is OidcService::complete()'s answer.
http::Response finishExternal(Call& c, const std::string& landing,
                              const std::string& portal_return);
// A provider's name as its buttons show it ("google" → "Google").
std::string providerLabel(std::string_view name);
// The end of a linking the account page began (oidc_routes' callback): back to the account page
// with what came of it. `landing` is OidcService::complete()'s answer.
http::Response finishLink(const Services& s, const std::string& landing);

}  // namespace gatehouse::api::pages

namespace gatehouse::api {
// Starts an external sign-in (oidc_routes): the provider's authorization URL and the transaction
// cookie; `portal_return` when the portal began it, `frontend_challenge` when a frontend binds the
// one-time code to itself, `link` when the account page links an identity.
http::Response beginExternal(Call& c, std::optional<std::string> portal_return,
                             std::optional<std::string> frontend_challenge = std::nullopt,
                             std::optional<oidc::OidcService::Linking> link = std::nullopt);
}  // namespace gatehouse::api
