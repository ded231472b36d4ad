// The middleware every route runs through, from its declaration: authentication for the declared
// credential, the permission check, the body parser; and the I/O thread's attempt.
#include <algorithm>
#include <stdexcept>

#include <boost/json/serialize.hpp>

#include "api/openapi.hpp"
#include "api/page_support.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/account_policy.hpp"
#include "auth/claims.hpp"
#include "auth/rate_check.hpp"
#include "core/blocking.hpp"
#include "core/ip_address.hpp"
#include "core/log.hpp"
#include "ui/pages.hpp"

namespace gatehouse::api {
namespace {

using auth::Errc;

// Authentication's outcome: the principal, the response to send, or "needs a worker".
using Authenticated = std::variant<auth::Principal, http::Response, http::Lane>;

// The sign-in cookies' principal (pages::cookiePrincipal): the pages want both cookies,
// forward-auth the session cookie.
Authenticated cookieSession(Services& s, http::Request& r, bool for_pages, core::Wait wait) {
  auto who = pages::cookiePrincipal(s, r, for_pages, wait);
  if (who) return std::move(*who);
  if (who.error().code == Errc::WouldBlock) return http::Lane::Storage;
  return errorResponse(who.error(), r);
}

Authenticated authenticateFor(const Route& route, Services& s, http::Request& r, core::Wait wait) {
  const Credential wanted = *route.credential;
  if (wanted == Credential::Session) return cookieSession(s, r, true, wait);
  Credentials c = headerCredentials(r);
  if (c.kind == Credentials::Kind::None) {
    // The browser's own sign-in comes before a key in an address: the original URI's, or the
    // request's own query (Caddy's forward_auth keeps the original query there). A link carrying
    // someone's ?api_key= must not make a signed-in person pass as the key's owner.
    if (route.session_cookie && pages::cookie(r, auth::BrowserSessions::kCookieName))
      return cookieSession(s, r, false, wait);
    // Nor does a browser without one become the owner of a link's key where people sign in at
    // the portal (?rd): the person is the one to sign in (a review: login CSRF). Programs, which
    // do not navigate, keep ?api_key=.
    const bool person = route.session_cookie && s.return_to != nullptr && r.queryParam("rd") &&
                        pages::browserNavigation(r);
    if (person) {
      spdlog::info("request_id={} a page navigation's address key was not taken (?rd)",
                   r.request_id);
    } else {
      c = addressCredentials(r, route.credentials_in_original_uri
                                    ? originalRequestHeaders(s.forward_auth_proxy).uri
                                    : std::string_view{});
    }
  }
  if (wanted == Credential::ApiKey) {
    // The seed's /external-data: its own two messages, whatever else the request carries.
    if (c.kind != Credentials::Kind::ApiKey) return http::Response::detail(401, "API key required");
  }
  switch (c.kind) {
    case Credentials::Kind::None:
      return errorResponse({Errc::NotAuthenticated, {}, {}, 0}, r);
    case Credentials::Kind::Invalid:
      return errorResponse({Errc::InvalidToken, "malformed Basic credentials", {}, 0}, r);
    case Credentials::Kind::ApiKey: {
      if (wanted == Credential::UserToken) {
        return errorResponse(
            {Errc::Forbidden, "an API key cannot manage its owner's account", {}, 0}, r);
      }
      auto who = s.api_keys.authenticate(c.secret(), clientOf(r), wait);
      if (who) return std::move(*who);
      if (who.error().code == Errc::WouldBlock) return http::Lane::Storage;
      if (wanted == Credential::ApiKey && who.error().code != Errc::Unavailable &&
          who.error().code != Errc::Internal) {
        // The seed's message for every refused key, an inactive owner's included.
        return errorResponse({Errc::InvalidApiKey, who.error().detail, {}, 0}, r);
      }
      return errorResponse(who.error(), r);
    }
    case Credentials::Kind::Token:
      break;
  }
  if (wanted == Credential::ApiKey)
    return errorResponse({Errc::InvalidApiKey, "not a key", {}, 0}, r);
  auto claims = s.token_check.checkAccessToken(c.secret());
  if (!claims) return errorResponse(claims.error(), r);
  // The claims move into the principal, not copied. When the user has to be read from storage
  // the worker checks the token again, which also sees a revocation that arrived in between: for
  // the API's own tokens a hit in auth::VerifiedTokens; a seed token (whose subject is always
  // read from storage) or a provider token needing storage is verified again in full.
  auto who = s.token_check.principalFor(std::move(*claims), wait);
  if (!who && who.error().code == Errc::WouldBlock) return http::Lane::Storage;
  if (!who) return errorResponse(who.error(), r);
  return std::move(*who);
}

// The whole middleware for one route; a Lane only when `wait` is No and storage is needed.
// A refusal by the middleware, as the route's audience reads it: a page for the pages, the
// portal's address for a browser at forward-auth, the API's JSON otherwise.
http::Response refusal(const Route& route, Services& s, const http::Request& r,
                       http::Response refused) {
  if (*route.credential == Credential::Session || route.csrf)
    return pages::pageRefusal(s, r, std::move(refused));
  if (route.session_cookie) pages::sendToPortal(s, r, refused);
  return refused;
}

// The principal the route's credential gives: the principal, the refusal, or a lane.
Authenticated admitCaller(const Route& route, Services& s, http::Request& r, core::Wait wait) {
  auto outcome = authenticateFor(route, s, r, wait);
  if (!std::holds_alternative<auth::Principal>(outcome)) return outcome;
  auth::Principal& who = std::get<auth::Principal>(outcome);
  // An OpenID client holding a user's token acts for them only as far as its scope goes: never
  // on the account itself (as an API key).
  if (*route.credential == Credential::UserToken && !who.client_id.empty())
    return errorResponse(
        {Errc::Forbidden, "an OpenID client's token cannot manage the account", {}, 0}, r);
  if (auto denied = requirePermissions(who, route.permissions, r)) return std::move(*denied);
  if (!route.any_permissions.empty() && !rbac::allowsAny(who.permissions, route.any_permissions))
    return errorResponse({Errc::Forbidden, "none of the route's permissions", {}, 0}, r);
  // MFA_REQUIRED_ROLES: until such a user enrols a factor, only enrolment is open to them.
  if (!route.before_mfa_enrolment && auth::enrolmentDue(*who.user, s.mfa_required_roles)) {
    // The seed's /external-data has its own two messages for every refused key (the contract's).
    if (*route.credential == Credential::ApiKey)
      return errorResponse({Errc::InvalidApiKey, "key owner's role needs a second factor", {}, 0},
                           r);
    return errorResponse({Errc::MfaEnrolmentRequired, "role needs a second factor", {}, 0}, r);
  }
  if (route.step_up) {
    if (auto fresh = s.token_check.stepUp(who, s.step_up_max_age); !fresh)
      return errorResponse(fresh.error(), r);
  } else if (route.factor_proof) {
    if (auto proof = s.token_check.factorProof(who, s.step_up_max_age); !proof)
      return errorResponse(proof.error(), r);
  }
  return outcome;
}

Attempt run(const Route& route, Services& s, http::Request& r, core::Wait wait) {
  // A form posted from another site is refused before anything is read or counted.
  if (route.csrf && ui::crossSite(r.header("origin"), r.header("sec-fetch-site"),
                                  s.return_to != nullptr ? s.return_to->ownOrigin() : "")) {
    // Logged as any refusal; the person reads why (not "Insufficient permissions").
    (void)errorResponse({Errc::Forbidden, "cross-site form post refused", {}, 0}, r);
    return pages::html(s, 403,
                       ui::messagePage(s.brand_name, "Not possible",
                                       "This form was sent from another site, so it was refused. "
                                       "Open the page here and send it again.",
                                       "/ui/account", "Your account"));
  }
  std::optional<auth::Principal> who;
  if (*route.credential != Credential::None) {
    auto outcome = admitCaller(route, s, r, wait);
    if (auto* lane = std::get_if<http::Lane>(&outcome)) return *lane;
    if (auto* response = std::get_if<http::Response>(&outcome))
      return refusal(route, s, r, std::move(*response));
    who = std::move(std::get<auth::Principal>(outcome));
    r.user_id = who->user->id;
    r.api_key_id = who->api_key_id.value_or(0);
    r.op_client_id = who->client_id;
  }
  std::optional<Body> body;
  if (route.body == BodyKind::Json || (route.body == BodyKind::OptionalJson && !r.body.empty()))
    body = Body::json(r);
  // The API's forms read as FastAPI's (an empty field is absent); the pages' as typed.
  if (route.body == BodyKind::Form) body = Body::form(r, !route.csrf);
  Call call{r, s, who ? &*who : nullptr, body ? &*body : nullptr, &route, false, wait};
  if (route.csrf) {
    const auto presented = body ? body->peekString("csrf") : std::nullopt;
    if (s.csrf == nullptr || !presented || !pages::csrfValid(call, *presented)) {
      return refusal(
          route, s, r,
          http::Response::detail(403, "This form has expired. Reload the page and try again."));
    }
  }
  http::Response response = route.handler(call);
  if (call.wants_worker) {
    if (wait == core::Wait::No) return http::Lane::Storage;
    // Unreachable: with Wait::Yes nothing would block. Never send the handler's blank answer.
    return errorResponse({Errc::Internal, "a worker asked for a worker: " + route.path, {}, 0}, r);
  }
  if (!route.limits.empty() && !call.admitted &&
      (response.status < 400 || response.status == 400 || response.status == 401)) {
    // A limited route did work (or judged a credential) without counting it: never let that
    // pass silently.
    return errorResponse({Errc::Internal, "route answered without admit(): " + route.path, {}, 0},
                         r);
  }
  return response;
}

// The counter of mails anyone may aim at an address (forgot, a registration, the new address of
// an email change): one per mailbox, however its address is spelled.
std::string mailboxCounter(std::string_view name, std::string_view address) {
  return std::string(name) + ":email:" + auth::mailboxKey(address);
}

// The counter key for one LimitKey; nullopt when the request has nothing to count under it.
std::optional<std::string> limitKey(LimitKey key, const std::string& name, const Call& c,
                                    const std::string& ip) {
  const auto account = [&c]() -> std::optional<std::string> {
    if (c.body == nullptr) return std::nullopt;
    const auto typed = c.body->peekString("username");
    if (!typed) return std::nullopt;
    return auth::accountKey(*typed);
  };
  switch (key) {
    case LimitKey::ClientAddress:
      return name + ":ip:" + ip;
    case LimitKey::Account: {
      auto a = account();
      if (!a) return std::nullopt;
      return name + ":acct:" + *a;
    }
    case LimitKey::AccountAndAddress: {
      auto a = account();
      if (!a) return std::nullopt;
      return name + ":acct-ip:" + *a + "|" + ip;
    }
    case LimitKey::Session:
      if (c.who == nullptr) return std::nullopt;
      return name + ":" + auth::sessionCounterKey(c.who->claims());
    case LimitKey::EmailAddress: {
      if (c.body == nullptr) return std::nullopt;
      auto typed = c.body->peekString("email");
      if (!typed) typed = c.body->peekString("new_email");
      if (!typed) return std::nullopt;
      return mailboxCounter(name, *typed);
    }
    case LimitKey::User:
      if (c.who == nullptr) return std::nullopt;
      return name + ":user:" + std::to_string(c.who->user->id);
    case LimitKey::OwnUnverifiedMailbox:
      if (c.who == nullptr || c.who->user->email_verified) return std::nullopt;
      return mailboxCounter(name, c.who->user->email);
    case LimitKey::RefreshSession:        // counted by the session service
    case LimitKey::MfaAccount:            // counted by the MFA service
    case LimitKey::MfaAccountAndAddress:  // counted by the passkey service
    case LimitKey::CodeAccount:           // counted by the provider's handler
    case LimitKey::RefusedChange:         // counted by the user service
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<http::Response> Call::admit() {
  if (admitted) return std::nullopt;
  admitted = true;
  if (route == nullptr) return std::nullopt;
  const auth::ClientInfo client = clientOf(request);
  // Per-address limits count an IPv6 client by its /64 (an outside attack: one host with a /64
  // had as many budgets as addresses).
  const std::string bucket = core::addressBucket(client.ip);
  for (const auto& rule : route->limits) {
    if (rule.applies && (body == nullptr || !rule.applies(*body))) continue;
    std::vector<std::string> keys;
    for (const LimitKey key : rule.keys) {
      if (auto k = limitKey(key, rule.name, *this, bucket)) keys.push_back(std::move(*k));
    }
    if (keys.empty()) continue;
    const auto limit = services.rate_limits.find(rule.setting);
    if (services.rates == nullptr || limit == services.rate_limits.end())
      return errorResponse({Errc::Internal, "no value for " + rule.setting, {}, 0}, request);
    if (auto ok = services.rates->hit(keys, limit->second, client, rule.name); !ok)
      return errorResponse(ok.error(), request);
  }
  return std::nullopt;
}

auth::Result<void> Call::spend(std::string_view setting, std::string key,
                               std::string_view counter) {
  const auto limit = services.rate_limits.find(setting);
  if (services.rates == nullptr || limit == services.rate_limits.end())
    return auth::fail(auth::Errc::Internal, "no value for " + std::string(setting));
  return services.rates->hit({std::move(key)}, limit->second, clientOf(request),
                             std::string(counter));
}

auth::UserCreator Call::registrationWrite(std::string_view address,
                                          std::optional<auth::Error>& refused) {
  if (services.email_verification == config::EmailVerification::Off || services.email == nullptr)
    return {};
  // A counter of its own: on forgot's ("email-send"), anyone could keep a person from signing
  // up by asking for resets of spellings of the address (a second review).
  return [this, key = mailboxCounter("email-register", address), &refused,
          write = services.email->registration(clientOf(request))](
             const store::NewUser& fresh) -> core::Result<store::User> {
    // Counted once the address and the name are known free, so a refused registration spends
    // nothing (found by a review); over it, no account (a user told of a link that never came
    // could not sign in under EMAIL_VERIFICATION=required).
    if (auto ok = spend("EMAIL_RATE_LIMIT", key, "email-register"); !ok) {
      refused = ok.error();
      return core::makeError(core::Errc::Unavailable, "EMAIL_RATE_LIMIT: the mailbox's budget");
    }
    return write(fresh);
  };
}

void Call::notify(const store::User& user, mail::Notice kind, std::string_view new_email) {
  if (services.email == nullptr || services.rates == nullptr) return;
  const auto limit = services.rate_limits.find("EMAIL_RATE_LIMIT");
  const auto per_address = services.rate_limits.find("EMAIL_IP_RATE_LIMIT");
  if (limit == services.rate_limits.end() || per_address == services.rate_limits.end()) return;
  services.email->noticeWithinBudget(*services.rates, {limit->second, per_address->second}, kind,
                                     user, clientOf(request), new_email);
}

void RouteTable::add(Route route) { routes_.push_back(std::move(route)); }

void RouteTable::install(http::Router& router, Services& services) {
  if (!router.routes().empty() && router_ != nullptr)
    throw std::logic_error("RouteTable::install called twice");
  for (const auto& route : routes_) {
    if (!route.credential || !route.lane || !route.handler)
      throw std::logic_error("route " + route.method + " " + route.path +
                             " lacks a credential, a lane or a handler");
    // Every form of the pages carries a CSRF token, read from a form body.
    if (route.path.starts_with("/ui/") && route.method != "GET" && !route.csrf)
      throw std::logic_error("page form " + route.path + " does not check a CSRF token");
    if (route.csrf && route.body != BodyKind::Form)
      throw std::logic_error("route " + route.path + " checks a CSRF token without a form body");
    for (const auto& rule : route.limits) {
      // Counting may wait for Redis: never on an I/O thread.
      if (*route.lane == http::Lane::Inline)
        throw std::logic_error("route " + route.path + " counts a rate limit on the I/O thread");
      if (!services.rate_limits.contains(rule.setting))
        throw std::logic_error("route " + route.path + " names an unknown limit " + rule.setting);
    }
    const std::size_t index =
        router.add(route.method, route.path, [&route, &services](http::Request& r) {
          auto done = run(route, services, r, core::Wait::Yes);
          if (auto* response = std::get_if<http::Response>(&done)) return std::move(*response);
          // Unreachable: with Wait::Yes nothing asks for a worker. Never send a blank answer.
          return errorResponse({Errc::Internal, "worker asked for a worker", {}, 0}, r);
        });
    if (index != static_cast<std::size_t>(&route - routes_.data()))
      throw std::logic_error("the router must hold only the route table's routes");
  }
  router_ = &router;
}

Attempt RouteTable::tryInline(http::Request& request, Services& services) const {
  if (router_ == nullptr) return http::Lane::Storage;
  const auto index = router_->find(request);
  if (!index) return http::Lane::Storage;  // 404/405 are answered by the router on a worker
  const Route& route = routes_[*index];
  if (*route.lane != http::Lane::Inline) return *route.lane;
  const core::NoWaitScope no_waiting;
  return run(route, services, request, core::Wait::No);
}

http::Response RouteTable::busy(const http::Request& request, Services& services) const {
  http::Response answer = errorResponse({auth::Errc::Overloaded, "lane queue full"}, request);
  if (request.route >= routes_.size()) return answer;
  return refusal(routes_[request.route], services, request, std::move(answer));
}

const std::string& RouteTable::openApiJson(Services& services) const {
  std::call_once(openapi_once_, [&] {
    openapi_json_ = boost::json::serialize(
        // Without GATEHOUSE_PUBLIC_URL the server is whatever origin the page came from ("/"),
        // so /docs works however it is reached (a proxy, localhost or 127.0.0.1).
        openApiDocument(*this, {services.public_url_configured ? services.public_url : "/",
                                services.policy.allPermissions()}));
  });
  return openapi_json_;
}

void addAllRoutes(RouteTable& table) {
  addAuthRoutes(table);
  addUserRoutes(table);
  addDiscoveryRoutes(table);
  addAuditRoutes(table);
  addApiKeyRoutes(table);
  addOidcRoutes(table);
  addDocsRoutes(table);
  addMfaRoutes(table);
  addEmailRoutes(table);
  addUiRoutes(table);
  addWebauthnRoutes(table);  // before the pages, which take its routes' rules
  addUiPortalRoutes(table);
  addUiAccountRoutes(table);
  addUiAdminRoutes(table);
  addOpRoutes(table);
  addClientRoutes(table);
}

}  // namespace gatehouse::api
