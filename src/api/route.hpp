#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/body.hpp"
#include "auth/passwords.hpp"
#include "auth/principal.hpp"
#include "core/blocking.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

namespace gatehouse::mail {
enum class Notice;  // mail/email_flows.hpp
}  // namespace gatehouse::mail

namespace gatehouse::api {

struct Services;

// Which credential a route takes; the middleware authenticates accordingly before the handler.
enum class Credential {
  None,        // anyone
  UserToken,   // a user's own access token: account management, never an API key
  TokenOrKey,  // an access token, or an API key acting as its owner limited to its scopes
  ApiKey,      // an API key only (the seed's /external-data)
  Session,     // the pages' `gatehouse_session` cookie only; without a good one a page sends the
               // browser to /ui/login
};

// How a route's body is read (FastAPI's Body / Form). OptionalJson: an empty body is allowed
// (then Call::body is null). Form: url-encoded or multipart/form-data; on a route without `csrf`
// (the API's, not a page's) a field sent empty counts as absent, as with FastAPI's Form.
enum class BodyKind { None, Json, OptionalJson, Form };

// A query or path parameter, for the OpenAPI document.
struct Param {
  std::string name;
  std::string in = "query";  // "query" or "path" (path parameters come from the pattern)
  std::string type = "string";
  bool required = false;
  std::string description;
};

// One documented answer: a status, what it means, and the schema of its JSON body ("" for none).
struct Reply {
  int status = 200;
  std::string description;
  std::string schema;
};

// What a rate limit counts by.
enum class LimitKey {
  ClientAddress,         // the client's address
  Account,               // the account the body names ("username"), as typed: known or not alike
  AccountAndAddress,     // that account from that address
  Session,               // the caller's session (their user when the token carries none)
  RefreshSession,        // the session of the body's refresh token: counted by the session service
                         // once the token is verified (a key chosen by the client would let anyone
                         // spend a victim session's budget)
  MfaAccount,            // the account of the body's mfa_token: counted by the MFA service once the
                         // token is found, before the code is checked
  CodeAccount,           // the signed-in account an authorization code is for, and its client:
                         // counted by the provider's handler once it knows them, before the code
  MfaAccountAndAddress,  // that account from that address: a passkey's answer, which cannot be
                         // guessed, counted by the passkey service (per account, whoever holds
                         // the password kept the owner's passkey out with wrong codes)
  EmailAddress,          // the address the body names ("email", else "new_email"), as typed:
                         // known or not alike
  User,                  // the caller's account (all their sessions together)
  OwnUnverifiedMailbox,  // the caller's own address by mailbox, while it is unverified: mails
                         // to it (a verification, an email change's notice) from accounts at
                         // "victim+1@", "victim+2@"... share one budget
  RefusedChange,         // the caller's account, counted by the user service when it refuses a
                         // change above the caller's rights, before that refusal is audited
};

// A rate limit of a route: N per window from a configuration variable, counted under each key
// in order (the first refusal answers 429 with Retry-After; unreachable shared counters, 503).
struct RateLimitRule {
  std::string setting;                       // "LOGIN_RATE_LIMIT"
  std::string name;                          // counters' prefix and the audit trail's "endpoint"
  std::vector<LimitKey> keys;                // in order
  std::string when;                          // for the document; "" = every admitted request
  std::function<bool(const Body&)> applies;  // null = always
};

// Each way in one adds to one's own account (an API key, a second factor, recovery codes, a
// passkey's name) writes an audit record, which is kept: counted per account (an outside attack
// made and revoked keys in a loop, 129 records a second from one self-registered account).
// Taking one away is never counted: a thief's stolen token would spend the budget and keep the
// owner from revoking the thief's key (a second attack). Forms declared from these routes share it.
inline const RateLimitRule kAccountChangeLimit{
    "ACCOUNT_CHANGE_RATE_LIMIT", "account-change", {LimitKey::User}, {}, nullptr};

// Each change to a user refused as above the caller's rights writes an audit record, which is
// kept: counted per calling account (an outside attack: a moderator's API key wrote 600 such
// records a second). Changes within the caller's rights are never counted.
inline const RateLimitRule kRefusedChangeLimit{"REFUSED_CHANGE_RATE_LIMIT",
                                               "refused-change",
                                               {LimitKey::RefusedChange},
                                               "when a change above the caller's rights is refused",
                                               nullptr};

struct Route;

// What a handler receives: the request, the authenticated principal (when the route takes a
// credential) and its parsed body (when it declares one).
struct Call {
  http::Request& request;
  Services& services;
  const auth::Principal* who = nullptr;
  Body* body = nullptr;
  const Route* route = nullptr;
  bool admitted = false;
  // Where the handler runs. On an I/O thread (Wait::No) it must not wait for storage: a handler
  // that finds it would sets `wants_worker` and returns before any effect, and the middleware
  // hands the request to a storage worker, which runs it again from the start (Wait::Yes).
  core::Wait wait = core::Wait::Yes;
  bool wants_worker = false;

  // A route declaring rate limits calls this once its input is valid and before any work (a
  // malformed request is not counted, as in the seed): the middleware counts the declared
  // limits and returns the 429 or 503 to send, or nothing. A limited route whose handler answers
  // a success without being admitted is a bug the middleware turns into a 500.
  [[nodiscard]] std::optional<http::Response> admit();
  // Tells `user` of a change to the account's ways in, after it is done (a notice mail, when mail
  // is configured), counted against EMAIL_RATE_LIMIT per recipient address (exactly: not per
  // mailbox, which another account at a spelling of it could spend) on a counter of that kind's
  // own, and, to an unverified address, per mailbox on such a counter of unverified notices: the
  // mails others can ask for (a reset) cannot spend it to silence the notice. Over the
  // limit (or with the counters out of reach) it is not sent; the change stands either way, and
  // the log says why with the request id.
  void notify(const store::User& user, mail::Notice kind, std::string_view new_email = {});
  // One hit under `key` against the rate-limit `setting` (a route's declared limit counted by its
  // handler, once it knows what to count): RateLimited (429 with Retry-After), Unavailable with
  // the counters out of reach, Internal for a setting the server has no value of.
  [[nodiscard]] auth::Result<void> spend(std::string_view setting, std::string key,
                                         std::string_view counter);
  // How a registration writes its user: with verification on, the user and its verification mail
  // in one transaction, the mail counted against EMAIL_RATE_LIMIT per mailbox (on a counter of
  // registrations' own), so registrations of "victim+1@x", "victim+2@x"... cannot bomb one
  // mailbox. Counted once the name and address are known free (a registration losing a race for
  // them at the database's unique index has counted). Over it, the write fails and `refused`
  // holds the 429 to answer; no account is made. Else (verification off) the plain write.
  [[nodiscard]] auth::UserCreator registrationWrite(std::string_view address,
                                                    std::optional<auth::Error>& refused);
};

using RouteHandler = std::function<http::Response(Call&)>;

// One route, declared once: everything the middleware, the worker placement, the OpenAPI
// document and the docs need. Fields without a default must be set (a test walks the table).
struct Route {
  std::string method;
  std::string path;                               // "/api/v1/users/{id}"
  std::optional<Credential> credential;           // required
  std::vector<std::string> permissions;           // all needed (403 Insufficient permissions)
  std::vector<std::string_view> any_permissions;  // at least one needed, when listed (console)
  std::optional<http::Lane> lane;                 // required
  // RFC 9470 step-up: the token's auth_time at most STEP_UP_MAX_AGE_SECONDS old and, when the
  // user has a factor, its amr holding "otp"; else 401 insufficient_user_authentication.
  bool step_up = false;
  // Its second half alone, where a ceremony begun under step-up ends (the answer to passkey
  // options, a TOTP confirmation): when the user has a factor, the token's amr proves one, however
  // old the sign-in (the age was checked when the ceremony began, and a slow authenticator or
  // a QR code scanned at leisure must not push it over); else 401 as for step-up.
  bool factor_proof = false;
  // Reachable by a user of MFA_REQUIRED_ROLES who has not enrolled a factor yet.
  bool before_mfa_enrolment = false;
  std::string summary;      // required
  std::string tag;          // required: the section in /docs
  std::string description;  // optional longer text
  BodyKind body = BodyKind::None;
  std::string body_schema;     // required with a body
  std::vector<Param> params;   // query parameters (path ones are derived)
  std::vector<Reply> replies;  // successes and route-specific failures
  std::vector<RateLimitRule> limits;
  bool credentials_in_original_uri = false;  // forward-auth: ?api_key= of the proxied request
  // Forward-auth for browsers: without a token or key, the pages' session cookie is taken; a
  // refused page navigation asking for it (?rd) is pointed at the portal.
  bool session_cookie = false;
  // A page's form: a cross-site post is refused, then the CSRF token checked, before anything
  // else (the handler, its limits, its body's meaning).
  bool csrf = false;
  bool hidden = false;  // left out of the OpenAPI document (/docs itself)
  RouteHandler handler;
};

// The middleware's answer on the I/O thread: the response, or the lane of workers to finish on.
using Attempt = std::variant<http::Response, http::Lane>;

// Every route of the API. Built at startup, then read-only (thread-safe).
class RouteTable {
 public:
  void add(Route route);
  const std::vector<Route>& routes() const { return routes_; }
  // Registers every route with `router`, wrapped in the middleware (authentication, permission
  // checks, body parsing). Call once, after every add().
  void install(http::Router& router, Services& services);
  // The I/O thread's try: a route of the Inline lane is answered when memory suffices (its
  // verified token travels with the request otherwise); any other route names its lane.
  [[nodiscard]] Attempt tryInline(http::Request& request, Services& services) const;
  // The answer to a request its lane had no room for (after tryInline found its route): the
  // contract's 503 "Server busy" with Retry-After, as a page on the pages' routes.
  http::Response busy(const http::Request& request, Services& services) const;
  // The OpenAPI document as served, made once (the table does not change after startup).
  const std::string& openApiJson(Services& services) const;

 private:
  std::vector<Route> routes_;
  const http::Router* router_ = nullptr;
  mutable std::once_flag openapi_once_;
  mutable std::string openapi_json_;
};

// Each resource's routes.
void addAuthRoutes(RouteTable& table);
void addUserRoutes(RouteTable& table);
void addDiscoveryRoutes(RouteTable& table);
void addAuditRoutes(RouteTable& table);
void addApiKeyRoutes(RouteTable& table);
void addOidcRoutes(RouteTable& table);
void addDocsRoutes(RouteTable& table);
void addMfaRoutes(RouteTable& table);
void addEmailRoutes(RouteTable& table);
void addUiRoutes(RouteTable& table);
void addUiPortalRoutes(RouteTable& table);
void addUiAccountRoutes(RouteTable& table);
void addUiAdminRoutes(RouteTable& table);
void addOpRoutes(RouteTable& table);
void addClientRoutes(RouteTable& table);
void addWebauthnRoutes(RouteTable& table);
// All of the above.
void addAllRoutes(RouteTable& table);

}  // namespace gatehouse::api
