// Sign-in with external OpenID providers (API.md, External login) and the user's identities.
#include <charconv>
#include <string>
#include <string_view>

#include "api/body.hpp"
#include "api/page_support.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/claims.hpp"
#include "oidc/oidc_service.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;

// The sign-in's transaction cookie, bound to the browser that began it: HttpOnly, Secure,
// SameSite=Lax (it must ride the provider's redirect back), ten minutes. Once the pages' cookies
// are Secure it is "__Host-" on Path=/, which no sibling host can set: one could plant the plain
// name (Domain= the parent) holding a transaction of its own and send the browser to the callback
// with its code, signing the victim in as the planter. On http://localhost it is scoped to the
// callback's path.
std::string transactionCookie(const Services& s, const std::string& provider,
                              std::string_view value, int max_age) {
  const std::string path =
      s.cookie_secure ? std::string("/") : "/api/v1/auth/oauth/" + provider + "/callback";
  return pages::hostCookie(s, oidc::OidcService::kCookieName) + "=" + std::string(value) +
         "; Path=" + path + "; Max-Age=" + std::to_string(max_age) +
         "; HttpOnly; Secure; SameSite=Lax";
}

http::Response redirect(const std::string& location) {
  http::Response res = http::Response::empty(302);
  res.set("Location", location);
  return res;
}

}  // namespace

http::Response beginExternal(Call& c, std::optional<std::string> portal_return,
                             std::optional<std::string> frontend_challenge,
                             std::optional<oidc::OidcService::Linking> link) {
  Services& s = c.services;
  const http::Request& r = c.request;
  // Every start counts, an unknown provider's too: each one asks the provider.
  if (auto refused = c.admit()) return std::move(*refused);
  const std::string& provider = r.path_params.at("provider");
  if (!s.oidc.hasProvider(provider)) return errorResponse({auth::Errc::NotFound, {}, {}, 0}, r);
  auto begun = s.oidc.begin(provider, std::move(portal_return), std::move(frontend_challenge),
                            std::move(link));
  if (!begun) return errorResponse({auth::Errc::Unavailable, begun.error().message, {}, 0}, r);
  http::Response res = redirect(begun->location);
  res.set("Set-Cookie", transactionCookie(s, provider, begun->cookie, 600));
  return res;
}

namespace {

// A frontend may bind the one-time code to itself (login CSRF: otherwise a code from someone
// else's sign-in, opened by a victim, signs the victim's frontend in as them): its S256 challenge
// here, the verifier at the exchange. Optional: the seed's frontends send neither.
http::Response start(Call& c) {
  const auto challenge = c.request.queryParam("code_challenge");
  const auto method = c.request.queryParam("code_challenge_method");
  std::vector<auth::FieldError> errors;
  if (challenge && !oidc::OidcService::isCodeChallenge(*challenge))
    errors.push_back({{"query", "code_challenge"},
                      "an S256 code challenge: 43 characters of base64url",
                      "value_error.str.regex"});
  if (!challenge && c.services.oidc.requiresFrontendChallenge())
    errors.push_back({{"query", "code_challenge"},
                      "field required (OIDC_REQUIRE_CODE_CHALLENGE)",
                      "value_error.missing"});
  // RFC 7636 §4.3: no method means plain, which is not offered; said, not assumed.
  if ((challenge || method) && (!method || *method != "S256" || !challenge))
    errors.push_back(
        {{"query", "code_challenge_method"}, "S256, with a code_challenge", "value_error.const"});
  if (!errors.empty()) return validationError(errors);
  return beginExternal(c, std::nullopt,
                       challenge ? std::optional<std::string>(*challenge) : std::nullopt);
}

// Each start and callback asks the provider (its discovery, its token endpoint): counted per
// client address, each apart, so that nobody makes this server call a provider at their pace.
RateLimitRule externalLimit(std::string name) {
  return {"OIDC_RATE_LIMIT", std::move(name), {LimitKey::ClientAddress}, {}, nullptr};
}

http::Response callback(Call& c) {
  Services& s = c.services;
  const http::Request& r = c.request;
  if (auto refused = c.admit()) return std::move(*refused);
  const std::string& provider = r.path_params.at("provider");
  if (!s.oidc.hasProvider(provider)) return errorResponse({auth::Errc::NotFound, {}, {}, 0}, r);
  oidc::OidcService::Callback cb;
  for (const char* name : {"code", "state", "iss", "error"}) {
    if (auto v = r.queryParam(name)) cb.params[name] = *v;
  }
  if (auto value = pages::cookie(r, pages::hostCookie(s, oidc::OidcService::kCookieName)))
    cb.cookie = std::string(*value);
  if (auto who = pages::signedIn(c))
    cb.browser_session = std::string(auth::sessionOf(who->claims()));
  oidc::OidcService::Begun begun;
  const std::string landing = s.oidc.complete(provider, cb, clientOf(r), &begun);
  // Begun by the pages: the browser stays here (signed in, or back on the account page), not
  // handed to FRONTEND_URL.
  http::Response res = begun.linking ? pages::finishLink(s, landing)
                       : begun.portal_return
                           ? pages::finishExternal(c, landing, *begun.portal_return)
                           : redirect(landing);
  // Added, not set: the portal's answer may carry its own cookies (the session, the CSRF one).
  pages::addCookie(res, transactionCookie(s, provider, "", 0));
  return res;
}

http::Response exchange(Call& c) {
  Services& s = c.services;
  const http::Request& r = c.request;
  Body& body = *c.body;
  const std::string code = body.requiredString("code");
  const auto verifier = body.optionalString("code_verifier");
  // A frontend that sends the member without a value (its stored verifier gone: a link opened in
  // a new tab) began no sign-in here with this code: refused, never traded as an unbound one.
  if (!verifier && body.present("code_verifier") && body.ok())
    body.errors().push_back({{"body", "code_verifier"}, "a string", "type_error.str"});
  if (verifier && !oidc::OidcService::isCodeVerifier(*verifier))
    body.errors().push_back({{"body", "code_verifier"},
                             "43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'",
                             "value_error.str.regex"});
  if (!body.ok()) return validationError(body.errors());
  const auto client = clientOf(r);
  auto who = s.oidc.exchange(code, client, verifier);
  if (!who) return errorResponse(who.error(), r);
  if (who->user.mfa_enabled && !auth::namesSecondFactor(who->grant.amr))
    return mfaRequired(*s.mfa, *who, client, r);
  auto pair = s.sessions.start(*who, client);
  if (!pair) return errorResponse(pair.error(), r);
  return tokenResponse(200, *pair);
}

http::Response identities(Call& c) {
  auto list = c.services.oidc.identities(c.who->user->id);
  if (!list) return errorResponse(list.error(), c.request);
  json::array items;
  for (const auto& i : *list) {
    items.push_back(json::object{{"id", i.id},
                                 {"provider", i.provider},
                                 {"subject", i.subject},
                                 {"email", i.email},
                                 {"created_at", rfc3339(i.created_at)}});
  }
  return http::Response::json(200, json::object{{"items", std::move(items)}});
}

http::Response unlink(Call& c) {
  auto id = pathId(c.request);
  if (!id) return id.error();
  if (auto ok = c.services.oidc.unlink(c.who->user->id, *id, clientOf(c.request)); !ok)
    return errorResponse(ok.error(), c.request);
  return http::Response::empty(204);
}

}  // namespace

// The handlers the pages run for their forms (handlers.hpp).
namespace handlers {
http::Response unlink(Call& c) { return api::unlink(c); }
}  // namespace handlers

void addOidcRoutes(RouteTable& t) {
  t.add({.method = "POST",
         .path = "/api/v1/auth/oauth/exchange",
         .credential = Credential::None,
         .lane = http::Lane::Storage,
         .summary = "Trade the one-time code of an external sign-in for a session",
         .tag = "external sign-in",
         .body = BodyKind::Json,
         .body_schema = "ExchangeRequest",
         .replies = {{200, "A new session", "TokenPair"},
                     {400, "Invalid or expired code", "ErrorDetail"},
                     {401,
                      "MFA required, with the mfa_token for POST /auth/mfa/verify (the user has a "
                      "second factor the provider did not vouch for)",
                      "LoginRefusal"},
                     {403, "Account is deactivated", "ErrorDetail"}},
         .handler = exchange});
  t.add({.method = "GET",
         .path = "/api/v1/auth/oauth/{provider}",
         .credential = Credential::None,
         .lane = http::Lane::Outbound,
         .summary = "Start signing in with an external provider (302 to it)",
         .tag = "external sign-in",
         .description = "A frontend binds the one-time code to itself with code_challenge (S256 "
                        "of a verifier it keeps, RFC 7636) and trades the code with that "
                        "code_verifier: a code from someone else's sign-in then fails in it "
                        "(login CSRF). Without, as the seed's frontends, the code is bound to "
                        "nothing.",
         .params = {{"code_challenge", "query", "string", false,
                     "S256 of the frontend's code verifier (43 characters of base64url)"},
                    {"code_challenge_method", "query", "string", false, "S256"}},
         .replies = {{302, "To the provider's authorization endpoint", ""},
                     {404, "Unknown provider", "ErrorDetail"},
                     {422, "Validation Error (code_challenge)", "HTTPValidationError"},
                     {503,
                      "Service Unavailable: the provider's discovery or storage unreachable, or "
                      "too many sign-ins waiting on the provider",
                      "ErrorDetail"}},
         .limits = {externalLimit("oidc_start")},
         .handler = start});
  t.add({.method = "GET",
         .path = "/api/v1/auth/oauth/{provider}/callback",
         .credential = Credential::None,
         .lane = http::Lane::Outbound,
         .summary = "The provider's redirect back (302 to FRONTEND_URL with a one-time code)",
         .tag = "external sign-in",
         .description = "A flow the pages' portal began (/ui/login/external/{provider}) ends "
                        "here in the browser instead: signed in (303 to its return address), "
                        "asked for the second factor (an HTML page), or refused (an HTML page, "
                        "or 303 to /ui/login?error=external); signed in only in the browser that "
                        "began it. "
                        "A linking the account page began "
                        "(/ui/account/identities/link/{provider}) ends with 303 to /ui/account.",
         .params = {{"code", "query", "string", false, ""},
                    {"state", "query", "string", false, ""},
                    {"iss", "query", "string", false, "RFC 9207"},
                    {"error", "query", "string", false, ""}},
         .replies = {{302, "To FRONTEND_URL/auth/callback#code=... or #error=...", ""},
                     {303,
                      "Begun by the portal: signed in, on to the return address; begun by the "
                      "account page: back to it",
                      ""},
                     {200, "Begun by the portal: the second factor's page (HTML)", ""},
                     {400,
                      "Begun by the portal in another browser (its gatehouse_csrf cookie is "
                      "not the one the flow was begun with): nobody signed in (an HTML page)",
                      ""},
                     {401, "Begun by the portal: refused (an HTML page)", ""},
                     {403, "Begun by the portal: account deactivated (an HTML page)", ""},
                     {404, "Unknown provider", "ErrorDetail"}},
         .limits = {externalLimit("oidc_callback")},
         .handler = callback});
  t.add({.method = "GET",
         .path = "/api/v1/auth/identities",
         .credential = Credential::UserToken,
         .lane = http::Lane::Storage,
         .summary = "The caller's linked external identities",
         .tag = "external sign-in",
         .replies = {{200, "Identities", "IdentityList"}},
         .handler = identities});
  t.add({.method = "DELETE",
         .path = "/api/v1/auth/identities/{id}",
         .credential = Credential::UserToken,
         .lane = http::Lane::Storage,
         // As removing a factor: an unlinking is remembered (that identity never links to the
         // account again), so a stolen stale token could cut the owner off their usual way in
         // for good (an outside attack).
         .step_up = true,
         .summary = "Unlink one of the caller's identities",
         .tag = "external sign-in",
         .description = "A step-up operation. The unlinked identity never links to this account "
                        "again by its address.",
         .replies = {{204, "Unlinked", ""},
                     {404, "Identity not found", "ErrorDetail"},
                     {409, "Cannot remove the last way to sign in", "ErrorDetail"}},
         .handler = unlink});
}

}  // namespace gatehouse::api
