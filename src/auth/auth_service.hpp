#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"
#include "auth/revocations.hpp"
#include "auth/tokens.hpp"
#include "auth/user_cache.hpp"
#include "config/config.hpp"
#include "core/blocking.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "password/hash_pool.hpp"
#include "password/password_hasher.hpp"
#include "rbac/policy.hpp"
#include "state/limits.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// Where a request came from: recorded on sessions and audit events.
struct ClientInfo {
  std::string ip;
  std::string user_agent;
  std::string request_id;
};

struct RegisterInput {
  std::string email;
  std::string username;
  std::string password;
};

// RFC 7662 answer for an active token; inactive tokens are just {"active": false}.
struct Introspection {
  bool active = false;
  std::string token_type;  // "access_token" or "refresh_token"
  jose::Claims claims;
  std::string username;
};

struct AbusePolicy {
  config::RateLimit login;
  config::RateLimit register_;
  std::int64_t refresh_grace_seconds = 0;
  config::RateLimit refresh{30, std::chrono::seconds(60)};  // per session
};

// Registration, login, refresh rotation, revocation, sessions and bearer authentication
// (API.md, Auth). Runs on worker threads: it blocks on storage and waits for the hashing pool,
// never on an I/O thread. Thread-safe.
class AuthService {
 public:
  struct Deps {
    store::Store& store;
    const password::PasswordHasher& hasher;
    password::HashPool& hash_pool;
    const TokenService& tokens;
    const rbac::Policy& policy;
    RevocationList& revocations;
    UserCache& users;
    state::RateLimiter& limiter;
    state::LoginGuard& guard;
    audit::AuditLog& audit;
    metrics::Registry& metrics;
    const core::Clock& clock;
    config::PasswordRules password_rules;
    AbusePolicy abuse;
  };
  explicit AuthService(Deps deps) : d_(std::move(deps)) {}

  // Validation (each failed rule named), EmailTaken, UsernameTaken, RateLimited, Overloaded.
  Result<TokenPair> registerUser(const RegisterInput& in, const ClientInfo& client);
  // `identifier` is an email or a username; `scope` narrows the token's scopes. InvalidCredentials
  // (same answer and cost for unknown users, wrong passwords and locked accounts),
  // AccountDisabled, RateLimited, Overloaded.
  Result<TokenPair> login(const std::string& identifier, const std::string& password,
                          const std::optional<std::string>& scope, const ClientInfo& client);
  // Rotates: InvalidRefreshToken (bad, rotated or revoked; a replay revokes the session),
  // RefreshUserInactive.
  Result<TokenPair> refresh(const std::string& refresh_token, const ClientInfo& client);
  // Revokes the access token and its session (and the session of `refresh_token` if given).
  Result<void> logout(const Principal& who, const std::optional<std::string>& refresh_token,
                      const ClientInfo& client);
  // RFC 7009: revokes an access token (its jti) or a refresh token (its session); unknown and
  // invalid tokens succeed silently.
  Result<void> revoke(const std::string& token, const std::optional<std::string>& hint,
                      const ClientInfo& client);
  // RFC 7662, for callers holding tokens:introspect.
  Result<Introspection> introspect(const std::string& token,
                                   const std::optional<std::string>& hint);
  // Checks a bearer token with no storage round-trip when nothing changed: InvalidToken (bad,
  // expired, revoked, voided by a password change, unknown user), InactiveUser; WouldBlock with
  // Wait::No when the answer needs storage.
  Result<Principal> authenticate(std::string_view bearer, core::Wait wait = core::Wait::Yes);
  // The first half, from memory only: signature with the pinned algorithm, type, expiry, and the
  // revoked token ids. InvalidToken, or Unavailable while this node may have missed revocations.
  Result<jose::Claims> checkAccessToken(std::string_view bearer) const;
  // The second half, for claims checkAccessToken accepted: the user (InactiveUser first, as the
  // contract wants), the ended sessions, the watermark, the permissions. InvalidToken,
  // InactiveUser; WouldBlock with Wait::No when storage is needed.
  Result<Principal> principalFor(jose::Claims claims, core::Wait wait = core::Wait::Yes);

  Result<std::vector<store::Session>> sessions(const Principal& who);
  // SessionNotFound unless the session is the caller's and live.
  Result<void> endSession(const Principal& who, const std::string& session_id,
                          const ClientInfo& client);
  // WrongPassword (also while delayed or locked after failures), Validation, RateLimited,
  // Overloaded; revokes every session and voids earlier tokens.
  // With `keep_api_keys` false the user's API keys end in the same transaction (the caller then
  // drops them from the key cache).
  Result<void> changePassword(const Principal& who, const std::string& current,
                              const std::string& next, const ClientInfo& client,
                              bool keep_api_keys = false);

  // Starts a session for a user who proved who they are elsewhere (an external provider):
  // AccountDisabled for inactive users.
  Result<TokenPair> signInExternal(std::int64_t user_id, const std::string& provider,
                                   const ClientInfo& client);

  // The user's sessions that may still have live access tokens: listed before a password change
  // or deactivation ends them in storage, so endTokensOf() can end their access tokens too.
  Result<std::vector<std::string>> sessionsToEnd(std::int64_t user_id);
  // Ends every access token of these sessions, on every node (the revocation list).
  Result<void> endTokensOf(const std::vector<std::string>& session_ids);
  // Whether `who`'s token is still good now, read from storage (not the cache): InvalidToken
  // when its session ended or the account changed since. Called after creating something with
  // it (an API key), so a change racing that creation cannot leave the creation behind.
  Result<void> stillValid(const Principal& who);

  // A password that passes the policy, hashed on the pool: Validation or Overloaded.
  Result<std::string> hashNewPassword(const std::string& password);

  const rbac::Policy& policy() const { return d_.policy; }

 private:
  Result<TokenPair> startSession(
      const store::User& user, std::vector<std::string> scopes, const ClientInfo& client,
      const std::optional<std::vector<std::string>>& granted_scope = std::nullopt);
  // Ends every access token of a session at once, on every node (the revocation list).
  Result<void> endSessionTokens(const std::string& session_id);
  std::vector<FieldError> passwordFieldErrors(const std::string& password, const char* field) const;
  Result<void> checkRate(const std::vector<std::string>& keys, const config::RateLimit& limit,
                         const ClientInfo& client, const char* what);
  void record(std::string type, const ClientInfo& client, std::optional<std::int64_t> actor,
              std::optional<std::int64_t> subject, boost::json::object detail = {});

  Deps d_;
};

}  // namespace gatehouse::auth
