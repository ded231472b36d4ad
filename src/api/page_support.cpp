#include "api/page_support.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <vector>

#include <boost/json/parse.hpp>

#include "auth/account_policy.hpp"
#include "auth/claims.hpp"
#include "core/ascii.hpp"
#include "core/log.hpp"
#include "core/uri_path.hpp"
#include "op/provider.hpp"
#include "ui/pages.hpp"
#include "ui/views.hpp"

namespace gatehouse::api::pages {
namespace {

namespace json = boost::json;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

http::Response html(const Services& s, int status, std::string body) {
  http::Response res;
  res.status = status;
  res.body = std::move(body);
  res.set("Content-Type", "text/html; charset=utf-8");
  res.set("Content-Security-Policy", s.page_csp);
  res.set("Cache-Control", "no-store");
  // Forms post with an Origin the server can check (no-referrer would make it "null").
  res.set("Referrer-Policy", "same-origin");
  return res;
}

namespace {
// The query of an OpenID client's authorization request that `return_to` is, with the
// Provider on; nothing for any other return address.
std::optional<std::string_view> authorizationQuery(const Services& s, std::string_view return_to) {
  if (s.provider == nullptr) return std::nullopt;
  std::string_view rest = return_to;
  if (s.return_to != nullptr && rest.starts_with(s.return_to->ownOrigin()))
    rest.remove_prefix(s.return_to->ownOrigin().size());
  constexpr std::string_view kAuthorize = "/oauth2/authorize?";
  if (!rest.starts_with(kAuthorize)) return std::nullopt;
  return rest.substr(kAuthorize.size());
}
}  // namespace

http::Response htmlReturning(Call& c, int status, std::string body, std::string_view return_to) {
  const Services& s = c.services;
  const auto query = authorizationQuery(s, return_to);
  if (query && c.wait == core::Wait::No) {
    c.wants_worker = true;  // the client store is read below
    return {};
  }
  http::Response res = html(s, status, std::move(body));
  if (!query) return res;
  const auto params = http::parseForm(*query);
  if (!params) return res;
  std::string_view client_id, redirect_uri;
  for (const auto& [name, value] : *params) {
    if (name == "client_id") client_id = value;
    if (name == "redirect_uri") redirect_uri = value;
  }
  const std::string source = s.provider->formActionFor(client_id, redirect_uri);
  if (!source.empty()) res.set("Content-Security-Policy", ui::withFormAction(s.page_csp, source));
  return res;
}

http::Response redirect(int status, std::string location) {
  http::Response res = http::Response::empty(status);
  res.set("Location", std::move(location));
  res.set("Cache-Control", "no-store");
  return res;
}

http::Response seeOther(std::string location) { return redirect(303, std::move(location)); }

namespace {

// Cookie `name` in the request's Cookie headers: its first value, and whether another value
// follows (every one is read: a cap let a sibling's sixteen equal copies, sent first for their
// longer paths, hide ours, a review found; the headers are already bounded).
struct CookieRead {
  std::optional<std::string_view> first;
  bool differs = false;
};

CookieRead readCookie(const http::Request& request, std::string_view name) {
  CookieRead out;
  for (const auto& [header, value] : request.headers) {
    if (!core::equalsIgnoringCase(header, "cookie")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
      std::string_view v = pair.substr(eq + 1);
      while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
      if (!out.first) {
        out.first = v;
      } else if (v != *out.first) {
        out.differs = true;
        return out;
      }
    }
  }
  return out;
}

}  // namespace

std::optional<std::string_view> cookie(const http::Request& request, std::string_view name) {
  const CookieRead read = readCookie(request, name);
  if (read.differs) return std::string_view{};
  return read.first;
}

bool cookieSentTwice(const http::Request& request, std::string_view name) {
  return readCookie(request, name).differs;
}

std::string cookieHeader(const Services& s, std::string_view name, std::string_view value,
                         std::int64_t max_age, bool host_only) {
  std::string out = std::string(name) + "=" + std::string(value) +
                    "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" + std::to_string(max_age);
  if (s.cookie_secure) out += "; Secure";
  if (!host_only && !s.cookie_domain.empty()) out += "; Domain=" + s.cookie_domain;
  return out;
}

std::string hostCookie(const Services& s, std::string_view base) {
  return (s.cookie_secure ? "__Host-" : "") + std::string(base);
}

namespace {
constexpr std::string_view kPortalCookie = "gatehouse_portal";
}  // namespace

void setSignIn(http::Response& response, const Services& s, const std::string& session_cookie,
               const std::string& session_id) {
  const std::int64_t max_age = s.tokens.settings().refresh_ttl.count();
  addCookie(response, cookieHeader(s, auth::BrowserSessions::kCookieName, session_cookie, max_age));
  addCookie(response, cookieHeader(s, hostCookie(s, kPortalCookie),
                                   s.csrf->tokenFor("portal", session_id), max_age, true));
}

void clearSignIn(http::Response& response, const Services& s) {
  addCookie(response, cookieHeader(s, auth::BrowserSessions::kCookieName, "", 0));
  addCookie(response, cookieHeader(s, hostCookie(s, kPortalCookie), "", 0, true));
}

auth::Result<auth::Principal> cookiePrincipal(Services& s, const http::Request& r, bool for_pages,
                                              core::Wait wait) {
  const auto value = cookie(r, auth::BrowserSessions::kCookieName);
  if (!value || value->empty() || s.browser == nullptr) {
    return tl::unexpected(auth::Error{
        auth::Errc::NotAuthenticated,
        value && cookieSentTwice(r, auth::BrowserSessions::kCookieName)
            ? "two session cookies (one may be planted by a sibling host): signed in as no one"
            : "",
        {},
        0});
  }
  auto who = s.browser->authenticate(*value, wait);
  if (!who || !for_pages) return who;
  const auto bound = cookie(r, hostCookie(s, kPortalCookie));
  if (!bound || !s.csrf->check("portal", auth::sessionOf(who->claims()), *bound))
    return tl::unexpected(auth::Error{
        auth::Errc::NotAuthenticated, "session cookie without its portal cookie", {}, 0});
  return who;
}

void addCookie(http::Response& response, std::string value) {
  response.headers.emplace_back("Set-Cookie", std::move(value));
}

namespace {
constexpr std::string_view kAnonPurpose = "anon";
}  // namespace

std::optional<BrowserBinding> browserBinding(const Call& c) {
  const Services& s = c.services;
  const std::string name = hostCookie(s, ui::Csrf::kCookieName);
  // A day, renewed by every page before sign-in: long enough for a form left open.
  constexpr std::int64_t kLifetime = 24 * 3600;
  const auto ours = [](std::string_view v) {  // base64url, as newBinding() makes them
    return !v.empty() && v.size() <= ui::Csrf::kMaxBindingBytes &&
           std::all_of(v.begin(), v.end(), [](char ch) {
             return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '_';
           });
  };
  std::string value;
  if (auto existing = cookie(c.request, name); existing && ours(*existing)) {
    value = std::string(*existing);
  } else if (auto fresh = ui::Csrf::newBinding()) {
    value = std::move(*fresh);
  } else {
    return std::nullopt;
  }
  std::string set = cookieHeader(s, name, value, kLifetime, true);
  return BrowserBinding{std::move(value), std::move(set)};
}

std::optional<std::string> externalVerifier(const Call& c,
                                            std::optional<std::string_view> binding) {
  const Services& s = c.services;
  if (!binding) binding = cookie(c.request, hostCookie(s, ui::Csrf::kCookieName));
  if (!binding || binding->empty() || binding->size() > ui::Csrf::kMaxBindingBytes)
    return std::nullopt;
  // 43 characters of base64url: a verifier RFC 7636 takes.
  std::string verifier = s.csrf->tokenFor("external", *binding);
  if (verifier.empty()) return std::nullopt;
  return verifier;
}

FormToken formToken(const Call& c) {
  const Services& s = c.services;
  if (c.who != nullptr) return {s.csrf->tokenFor("session", auth::sessionOf(c.who->claims())), {}};
  auto binding = browserBinding(c);
  if (!binding) return {};
  return {s.csrf->tokenFor(kAnonPurpose, binding->value), std::move(binding->set_cookie)};
}

http::Response attach(http::Response response, const FormToken& token) {
  if (token.new_cookie) addCookie(response, *token.new_cookie);
  return response;
}

bool csrfValid(const Call& c, std::string_view presented) {
  const Services& s = c.services;
  if (c.who != nullptr)
    return s.csrf->check("session", auth::sessionOf(c.who->claims()), presented);
  const auto binding = cookie(c.request, hostCookie(s, ui::Csrf::kCookieName));
  return binding && !binding->empty() && s.csrf->check(kAnonPurpose, *binding, presented);
}

std::string_view notice(Notices texts, std::optional<std::string_view> key) {
  if (!key) return {};
  for (const auto& [k, text] : texts) {
    if (k == *key) return text;
  }
  return {};
}

bool mayUseConsole(const auth::Principal& who) {
  return rbac::allowsAny(who.permissions, kConsolePermissions);
}

std::string render(const Call& c, std::string_view view, std::string_view title,
                   boost::json::object data, std::string_view csrf) {
  data["brand"] = c.services.brand_name;
  data["title"] = title;
  data["csrf"] = csrf;
  if (c.who != nullptr) {
    data["viewer"] = boost::json::object{
        {"username", c.who->user->username},
        // No link a user who must first enrol a second factor could only be refused at.
        {"console",
         mayUseConsole(*c.who) && !auth::enrolmentDue(*c.who->user, c.services.mfa_required_roles)},
        {"csrf", csrf}};
  }
  return ui::view(view, data);
}

std::optional<auth::Principal> signedIn(Call& c) {
  auto who = cookiePrincipal(c.services, c.request, true, c.wait);
  if (!who) {
    if (who.error().code == auth::Errc::WouldBlock) c.wants_worker = true;
    return std::nullopt;
  }
  return std::move(*who);
}

namespace {

const Route& apiRoute(const RouteTable& table, std::string_view method, std::string_view path) {
  for (const auto& route : table.routes()) {
    if (route.method == method && route.path == path) return route;
  }
  throw std::logic_error("a page names no API route " + std::string(method) + " " +
                         std::string(path));
}

}  // namespace

std::string providerLabel(std::string_view name) {
  std::string label(name);
  if (!label.empty()) label[0] = core::upperAscii(label[0]);
  return label;
}

std::vector<RateLimitRule> limitsOf(const RouteTable& table, std::string_view api_method,
                                    std::string_view api_path) {
  return apiRoute(table, api_method, api_path).limits;
}

void addForm(RouteTable& table, std::string_view api_method, std::string_view api_path,
             std::string page_path, std::string summary, RouteHandler handler) {
  const Route* api = &apiRoute(table, api_method, api_path);
  Route form{.method = "POST",
             .path = std::move(page_path),
             .credential = Credential::Session,
             .permissions = api->permissions,
             .lane = api->lane,
             .step_up = api->step_up,
             .factor_proof = api->factor_proof,
             .before_mfa_enrolment = api->before_mfa_enrolment,
             .summary = std::move(summary),
             .tag = "pages",
             .description = "The page's form for " + std::string(api_method) + " " +
                            std::string(api_path) + ".",
             .body = BodyKind::Form,
             .body_schema = api->body_schema.empty() ? "CsrfForm" : api->body_schema,
             .replies = {{303, "Done: back to the page", ""}},
             .limits = api->limits,
             .csrf = true,
             .hidden = true,
             .handler = std::move(handler)};
  table.add(std::move(form));
}

std::string detailOf(const http::Response& answer) {
  boost::system::error_code ec;
  const json::value v = json::parse(answer.body, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* detail = o != nullptr ? o->if_contains("detail") : nullptr;
  if (detail != nullptr && detail->is_string()) return std::string(detail->get_string());
  if (detail != nullptr && detail->is_array()) {
    std::string out;
    for (const auto& item : detail->get_array()) {
      const auto* obj = item.if_object();
      if (obj == nullptr) continue;
      std::string where;
      if (const auto* loc = obj->if_contains("loc"); loc != nullptr && loc->is_array() &&
                                                     !loc->get_array().empty() &&
                                                     loc->get_array().back().is_string())
        where = std::string(loc->get_array().back().get_string()) + ": ";
      if (const auto* msg = obj->if_contains("msg"); msg != nullptr && msg->is_string())
        out += (out.empty() ? "" : "; ") + where + std::string(msg->get_string());
    }
    if (!out.empty()) return out;
  }
  return "Something went wrong. Try again in a moment.";
}

boost::json::object when(std::int64_t unix_seconds) {
  const std::string iso = rfc3339(unix_seconds);  // 2026-12-02T00:43:39Z
  return {{"iso", iso}, {"text", iso.substr(0, 10) + " " + iso.substr(11, 5) + " UTC"}};
}

http::Response keepRetryAfter(http::Response page, const http::Response& api) {
  for (const auto& [name, value] : api.headers) {
    if (name == "Retry-After") page.set(name, value);
  }
  return page;
}

bool needsSignIn(const http::Response& answer) {
  if (answer.status != 401) return false;
  const std::string text = detailOf(answer);
  return text == "Not authenticated" || text == "Could not validate credentials" ||
         text == "Step-up authentication required";
}

std::string refusalText(const auth::Error& error, const http::Request& request) {
  return detailOf(errorResponse(error, request));
}

std::string returnTo(const Services& s, std::string_view candidate) {
  if (s.return_to == nullptr) return "";
  return s.return_to->check(candidate).value_or("");
}

bool pageNavigation(const http::Request& request) {
  const auto mode = request.header("sec-fetch-mode");
  const auto accept = request.header("accept");
  return mode ? *mode == "navigate" : (accept && contains(*accept, "text/html"));
}

bool browserNavigation(const http::Request& request) {
  if (const auto mode = request.header("sec-fetch-mode")) return *mode == "navigate";
  const auto accept = request.header("accept");
  return accept && contains(*accept, "text/html") && contains(*accept, "application/xhtml+xml");
}

void sendToPortal(const Services& s, const http::Request& request, http::Response& refused,
                  bool again) {
  if (refused.status != 401 || s.return_to == nullptr) return;
  const auto rd = request.queryParam("rd");
  if (!rd) return;
  // A refused token or key is no person at a browser's address bar (and a key in the original
  // URI must not travel on into the portal's address).
  const auto headers = originalRequestHeaders(s.forward_auth_proxy);
  if (credentialsOf(request, headers.uri).kind != Credentials::Kind::None) return;
  // A page navigation only: scripts and API clients get the plain 401.
  const bool navigation = pageNavigation(request);
  const auto method = request.header(originalRequestHeaders(s.forward_auth_proxy).method);
  if (!navigation || (method && *method != "GET" && *method != "HEAD")) return;
  std::string original = *rd;
  if (original.empty()) {
    // The configured proxy's headers only: nginx's X-Original-URL, the others' X-Forwarded-*.
    const auto url = s.forward_auth_proxy == config::ForwardAuthProxy::Nginx
                         ? request.header("x-original-url")
                         : std::nullopt;
    if (url) {
      original = std::string(*url);
    } else {
      const auto proto = request.header("x-forwarded-proto");
      const auto host = request.header("x-forwarded-host");
      const auto uri = request.header(originalRequestHeaders(s.forward_auth_proxy).uri);
      if (proto && host && uri)
        original = std::string(*proto) + "://" + std::string(*host) + std::string(*uri);
    }
  }
  const std::string target = returnTo(s, original);
  if (target.empty() || target.front() == '/') {
    spdlog::info("request_id={} forward-auth: no portal redirect (return address not allowed)",
                 request.request_id);
    return;
  }
  refused.set("Location", s.public_url + "/ui/login?return_to=" + core::percentEncode(target) +
                              (again ? "&reauth=1" : ""));
  // Traefik and Caddy hand a refusal to the browser as it is; nginx turns it into a redirect.
  if (s.forward_auth_proxy != config::ForwardAuthProxy::Nginx) {
    refused.status = 302;
    refused.body.clear();
    refused.headers.erase(std::remove_if(refused.headers.begin(), refused.headers.end(),
                                         [](const auto& h) { return h.first == "Content-Type"; }),
                          refused.headers.end());
  }
}

http::Response pageRefusal(const Services& s, const http::Request& request,
                           http::Response refused) {
  if (refused.status == 401) {
    // No session, an ended one, or a sign-in too old for this step: sign in (again).
    // The path and query (never an absolute-form target's authority).
    std::string back = request.method == "GET"
                           ? request.path + (request.query.empty() ? "" : "?" + request.query)
                       : request.path.starts_with("/ui/admin") ? "/ui/admin"
                                                               : "/ui/account";
    http::Response res = seeOther("/ui/login?return_to=" + core::percentEncode(back) +
                                  (contains(refused.body, "Step-up") ? "&reauth=1" : ""));
    // Two session cookies: the one deleted would be ours (Path=/), the planted one would stay.
    if (!contains(refused.body, "Step-up") &&
        !cookieSentTwice(request, auth::BrowserSessions::kCookieName))
      clearSignIn(res, s);
    return res;
  }
  const std::string text = detailOf(refused);
  http::Response res =
      html(s, refused.status,
           ui::messagePage(s.brand_name, "Not possible", text, "/ui/account", "Your account"));
  for (const auto& [name, value] : refused.headers) {
    if (name == "Retry-After") res.set(name, value);
  }
  return res;
}

}  // namespace gatehouse::api::pages
