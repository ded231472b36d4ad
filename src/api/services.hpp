#pragma once

#include <functional>
#include <map>
#include <string>

#include "api/route.hpp"
#include "auth/api_keys.hpp"
#include "auth/browser_sessions.hpp"
#include "auth/passwords.hpp"
#include "auth/rate_check.hpp"
#include "auth/sessions.hpp"
#include "auth/token_check.hpp"
#include "auth/user_service.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "mail/email_flows.hpp"
#include "metrics/metrics.hpp"
#include "mfa/mfa_service.hpp"
#include "oidc/oidc_service.hpp"
#include "op/provider.hpp"
#include "state/bus.hpp"
#include "ui/csrf.hpp"
#include "ui/pages.hpp"
#include "ui/return_to.hpp"
#include "webauthn/passkey_service.hpp"

namespace gatehouse::api {

// What the handlers call; built by the composition root (app/).
struct Services {
  auth::TokenCheck& token_check;
  auth::Sessions& sessions;
  auth::PasswordService& passwords;
  auth::UserService& users;
  auth::ApiKeyService& api_keys;
  const auth::TokenService& tokens;
  store::Store& store;
  const rbac::Policy& policy;
  metrics::Registry& metrics;
  oidc::OidcService& oidc;
  audit::AuditLog& audit;
  std::string public_url;              // base URL for discovery documents
  bool public_url_configured = false;  // GATEHOUSE_PUBLIC_URL was set (else derived)
  const state::Bus* bus = nullptr;     // shared-state notifications; readiness needs them live
  config::ForwardAuthProxy forward_auth_proxy = config::ForwardAuthProxy::Nginx;
  bool registration_enabled = true;
  bool docs_enabled = true;               // /openapi.json and /docs (DOCS_ENABLED)
  const RouteTable* routes = nullptr;     // for /openapi.json
  std::vector<std::string> cors_origins;  // CORS_ALLOW_ORIGINS: exact origins
  auth::RateCheck* rates = nullptr;       // the routes' declared limits
  // Each rate-limit setting a route names (RateLimitRule::setting) and its value.
  std::map<std::string, config::RateLimit, std::less<>> rate_limits;
  mfa::MfaService* mfa = nullptr;               // the second factor
  std::int64_t step_up_max_age = 300;           // STEP_UP_MAX_AGE_SECONDS
  std::vector<std::string> mfa_required_roles;  // MFA_REQUIRED_ROLES
  mail::EmailFlows* email = nullptr;            // reset, verification, email change
  config::EmailVerification email_verification = config::EmailVerification::Off;
  std::string brand_name = "Gatehouse";  // BRAND_NAME, on pages
  std::string metrics_token;             // METRICS_TOKEN: /metrics needs it when set
  // The pages (API.md, Pages for people).
  auth::BrowserSessions* browser = nullptr;  // the gatehouse_session cookie
  const ui::Csrf* csrf = nullptr;            // the forms' tokens
  const ui::ReturnTo* return_to = nullptr;   // ALLOWED_RETURN_URLS
  std::string brand_css;                     // /ui/static/brand.css (BRAND_*, ui.css)
  // The pages' Content-Security-Policy: ui::pageCsp() with ALLOWED_RETURN_URLS in form-action
  // (a browser applies form-action to the redirect after a form: the portal's to an app).
  std::string page_csp = std::string(ui::kPageCsp);
  bool cookie_secure = true;                     // false only for http://localhost and 127.0.0.1
  std::string cookie_domain;                     // SESSION_COOKIE_DOMAIN ("" = this host only)
  op::Provider* provider = nullptr;              // Gatehouse as an OpenID Provider (/oauth2/*)
  webauthn::PasskeyService* passkeys = nullptr;  // passkeys (/api/v1/auth/webauthn/*)
  // True while this node, without Redis, does not serve one-time values (another node on its
  // PostgreSQL does, or it could not confirm it still may: app/roster_watch.hpp): readiness
  // says 503. Empty: never.
  std::function<bool()> stands_aside;
};

// The request's origin for sessions and audit events.
auth::ClientInfo clientOf(const http::Request& request);

// The one place auth errors become HTTP responses (API.md messages); the detail is logged with
// the request id and never sent.
http::Response errorResponse(const auth::Error& error, const http::Request& request);
// `error` with STEP_UP_MAX_AGE_SECONDS as its max_age when it asks for a step-up that a service
// found due (a factor turned on meanwhile), which the route's own check would have named.
[[nodiscard]] auth::Error withStepUpAge(const Call& c, auth::Error error);

// What the self-service routes ask for, an administrator's route never skips on the caller's own
// account (an outside attack: a stolen fresh token set its own password with no current one, and
// moved its own address with no confirmation): 403 when `target` is the caller, naming `what` in
// the log. The caller's own ways are /auth/password, /auth/email/change and /auth/mfa.
[[nodiscard]] std::optional<http::Response> refusedOnOwnAccount(const Call& c, std::int64_t target,
                                                                std::string_view what);

// The caller as the user service judges another account's change: a refusal above its rights
// spends its budget (REFUSED_CHANGE_RATE_LIMIT) before it is audited (user.change_refused).
[[nodiscard]] auth::Actor actorOf(Call& c);

// The credential a request carries. Usually a view of the request's own header (no copy of the
// token on the hot path); decoded forms (Basic, query strings) are owned. Valid while the request
// lives.
struct Credentials {
  enum class Kind { None, Token, ApiKey, Invalid };
  Kind kind = Kind::None;
  std::string_view borrowed;
  std::optional<std::string> owned;
  std::string_view secret() const { return owned ? std::string_view(*owned) : borrowed; }
};
// The credentials a request carries, in the order they are looked for: Authorization Bearer (an
// access token, or an API key when it starts with gh_), Authorization Basic (the password is an
// API key), X-API-Key, the api_key query parameter and, for forward-auth, the api_key in
// `original_uri_header` (the configured proxy's X-Original-URI or X-Forwarded-Uri).
Credentials credentialsOf(const http::Request& request, std::string_view original_uri_header = {});
// Its two halves: what the headers carry (Authorization, X-API-Key), and the api_key of an
// address (the request's own query, then `original_uri_header`'s). Forward-auth looks for the
// session cookie between them: a link's key never outranks the browser's own sign-in.
Credentials headerCredentials(const http::Request& request);
Credentials addressCredentials(const http::Request& request, std::string_view original_uri_header);

// The credentials after an Authorization header's `scheme` ("bearer", "basic"), the scheme matched
// without regard to case and the spaces after it skipped (RFC 9110 §11.4); nullopt for another
// scheme.
std::optional<std::string_view> authorizationCredentials(std::string_view header,
                                                         std::string_view scheme);

// The headers carrying the original request in forward-auth: those the configured proxy kind
// sends (believed), and the other kind's (only a client can have sent them).
struct OriginalRequestHeaders {
  std::string_view method;
  std::string_view uri;
  std::string_view other_method;
  std::string_view other_uri;
};
OriginalRequestHeaders originalRequestHeaders(config::ForwardAuthProxy proxy);

// The integer path parameter `name`, or the 422 response for a malformed one.
[[nodiscard]] tl::expected<std::int64_t, http::Response> pathId(const http::Request& request,
                                                                const std::string& name = "id");

// An integer query parameter in [min, max]: `fallback` when absent, nullopt (and an error item)
// when malformed or out of range.
std::optional<std::int64_t> queryInteger(const http::Request& request, const char* name,
                                         std::int64_t min, std::int64_t max,
                                         std::optional<std::int64_t> fallback,
                                         std::vector<auth::FieldError>& errors);

// 403 {"detail": "Insufficient permissions"} unless the principal holds every permission.
[[nodiscard]] std::optional<http::Response> requirePermissions(
    const auth::Principal& who, const std::vector<std::string>& permissions,
    const http::Request& request);

// RFC 3339 UTC text ("2026-11-25T02:18:08Z") of Unix seconds.
using core::rfc3339;

// The User object of API.md (never a hash or secret).
boost::json::object userJson(const store::User& user);
// 401 {"detail": "MFA required", "mfa_token", "methods"}: the first proof (a password, an external
// provider) was right and the session waits for the second factor (POST /auth/mfa/verify).
http::Response mfaRequired(mfa::MfaService& mfa, const auth::SignedIn& who,
                           const auth::ClientInfo& client, const http::Request& request);
// `response` with Cache-Control: no-store and Pragma: no-cache: it carries a secret.
http::Response noStore(http::Response response);
// TokenPair with Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1).
http::Response tokenResponse(int status, const auth::TokenPair& pair);

}  // namespace gatehouse::api
