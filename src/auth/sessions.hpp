#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/client_info.hpp"
#include "auth/errors.hpp"
#include "auth/legacy_tokens.hpp"
#include "auth/principal.hpp"
#include "auth/rate_check.hpp"
#include "auth/session_end.hpp"
#include "auth/token_check.hpp"
#include "auth/tokens.hpp"
#include "auth/user_cache.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "rbac/policy.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// A user who proved who they are (a password, an external provider): what a session starts from.
struct SignedIn {
  store::User user;                 // as read when the proof was checked
  std::vector<std::string> scopes;  // the token's permissions
  Grant grant;                      // narrowed scope, methods (amr) and time of the proof
  // An external sign-in's identity: a second step after it needs it still linked (an unlinking
  // changes no account mark).
  std::optional<std::int64_t> identity_id;
};

// RFC 7662 answer for an active token; inactive tokens are just {"active": false}.
struct Introspection {
  bool active = false;
  std::string token_type;  // "access_token" or "refresh_token"
  jose::Claims claims;
  std::string username;
  // An access token's scopes as far as they still hold: a permission the user's role no longer
  // has is left out (an outside attack: the API's introspection reported a demoted moderator's
  // users:write, which services that read scope took as the right). OpenID's own scopes
  // (openid, profile, email, offline_access) stay.
  std::vector<std::string> scopes;
};

struct SessionRules {
  std::int64_t refresh_grace_seconds = 0;
  config::RateLimit refresh{30, std::chrono::seconds(60)};  // per session
  bool email_verification_required = false;                 // EMAIL_VERIFICATION=required
  // SESSIONS_PER_USER: a new session past it ends the user's least recently used live ones.
  std::size_t max_per_user = 100;
  // MFA_REQUIRED_ROLES: introspection answers the tokens of an account that must enrol a second
  // factor first inactive, as the routes and the provider's introspection refuse them.
  std::vector<std::string> mfa_required_roles;
};

// What ends an external sign-in's one-time code, as it stood when the code was issued: the
// account's token watermark and a mark of its password hash ("<watermark>.<16 hex of SHA-256 of
// the hash>"). The watermark moves by whole seconds and only up, so a second change within one
// second moved nothing (an attack on two nodes); a password change always changes the hash.
std::string accountMark(const store::User& user);
// Whether `user` still stands where `mark` (its accountMark then) says; constant time.
bool stillMarked(const store::User& user, std::string_view mark);
// The account of a token from storage, as it is now, for a proof given with that token
// (reauthentication): InvalidCredentials when the account is gone or inactive, the token was
// ended (issued before its watermark), or its session is revoked or gone. A session begun for
// the proof and checked against this row then sees any change after this read.
[[nodiscard]] Result<store::User> currentAccount(store::Store& store, const Principal& who);

// Sessions and their tokens (API.md, Tokens and Sessions): starting one for a signed-in user,
// refresh rotation with reuse detection, logout, RFC 7009 revocation, RFC 7662 introspection,
// listing and ending. Runs on workers (blocks on storage). Thread-safe.
class Sessions {
 public:
  struct Deps {
    store::Store& store;
    const TokenService& tokens;
    const rbac::Policy& policy;
    RevocationList& revocations;
    UserCache& users;
    TokenCheck& check;
    SessionEnd& end;
    RateCheck& rates;
    audit::AuditLog& audit;
    metrics::Registry& metrics;
    const core::Clock& clock;
    SessionRules rules;
    // The seed's tokens (LEGACY_SECRET_KEY), null when not configured.
    const LegacyTokens* legacy = nullptr;
  };
  explicit Sessions(Deps deps) : d_(std::move(deps)) {}

  // A new session and its token pair. InvalidCredentials when the account changed (password,
  // deactivation) while the proof was being checked.
  // `session_id` empty: a fresh random one; else that id, which must not exist yet (AlreadyExists).
  [[nodiscard]] Result<TokenPair> start(const SignedIn& who, const ClientInfo& client,
                                        const std::string& session_id = {});
  // The session row alone, for a credential other than a token pair (the pages' cookie):
  // `refresh_jti` is what rotation would accept (a fresh id no token carries, for none).
  [[nodiscard]] Result<store::Session> open(const SignedIn& who, const ClientInfo& client,
                                            const std::string& refresh_jti,
                                            const std::string& session_id = {});
  // The proof an external provider gave for a user: AccountDisabled for inactive users,
  // EmailNotVerified for unverified ones when verification is required. amr
  // ["ext"], plus the second-factor methods `provider_amr` names when the provider is trusted
  // for them (empty otherwise). Audited as a sign-in by `provider` unless a second factor of
  // ours is still due. With `mark` (accountMark of the account when the proof was given),
  // InvalidExchangeCode when it changed since, judged on the row the session's own post-check
  // compares against (a review: a second read left a change between the two).
  [[nodiscard]] Result<SignedIn> externalProof(std::int64_t user_id, const std::string& provider,
                                               const std::vector<std::string>& provider_amr,
                                               const ClientInfo& client,
                                               const std::optional<std::string>& mark = {});
  // Rotates: InvalidRefreshToken (bad, rotated or revoked; a replay revokes the session),
  // RefreshUserInactive, EmailNotVerified (when required), RateLimited (REFRESH_RATE_LIMIT per
  // session: counted here, where the session is known from the verified token).
  [[nodiscard]] Result<TokenPair> refresh(const std::string& refresh_token,
                                          const ClientInfo& client);
  // Revokes the access token and its session (and the session of `refresh_token` if given).
  [[nodiscard]] Result<void> logout(const Principal& who,
                                    const std::optional<std::string>& refresh_token,
                                    const ClientInfo& client);
  // RFC 7009: revokes an access token (its jti) or a refresh token (its session); unknown and
  // invalid tokens succeed silently.
  [[nodiscard]] Result<void> revoke(const std::string& token,
                                    const std::optional<std::string>& hint,
                                    const ClientInfo& client);
  // RFC 7662, for callers holding tokens:introspect.
  [[nodiscard]] Result<Introspection> introspect(const std::string& token,
                                                 const std::optional<std::string>& hint);
  [[nodiscard]] Result<std::vector<store::Session>> list(const Principal& who);
  // SessionNotFound unless the session is the caller's and live.
  [[nodiscard]] Result<void> end(const Principal& who, const std::string& session_id,
                                 const ClientInfo& client);

 private:
  // SESSIONS_PER_USER: the user's least recently used live sessions beyond it end, of those begun
  // strictly before `kept` (the new one, which never ends).
  void endLeastRecentlyUsed(std::int64_t user_id, const store::Session& kept,
                            const ClientInfo& client);
  // A seed refresh token traded for a session of ours, once on every node: the session's id is
  // derived from the token, so the database's key refuses a second trade.
  [[nodiscard]] Result<TokenPair> tradeLegacy(const std::string& refresh_token,
                                              const ClientInfo& client);
  // Spends a seed refresh token (of `owner` when given) so it is never traded, ending the session
  // a trade made; false when it is not one.
  [[nodiscard]] Result<bool> spendLegacy(const std::string& refresh_token,
                                         std::optional<std::int64_t> owner);
  void record(std::string type, const ClientInfo& client, std::optional<std::int64_t> actor,
              std::optional<std::int64_t> subject, boost::json::object detail = {});

  Deps d_;
};

}  // namespace gatehouse::auth
