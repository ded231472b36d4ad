#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/api_keys.hpp"
#include "auth/client_info.hpp"
#include "auth/errors.hpp"
#include "auth/session_end.hpp"
#include "auth/user_cache.hpp"
#include "rbac/policy.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

struct UserPage {
  std::vector<store::User> items;
  std::int64_t total = 0;
};

// Who administers: the acting user and the permissions the request holds. Nobody acts above
// their own rights: a target whose role grants anything the actor lacks is out of reach.
// The command line acts with no user id and every permission (whoever runs it owns the
// database), audited as actor "cli".
struct Actor {
  std::optional<std::int64_t> id;
  std::vector<std::string> permissions;
  // Spends the caller's budget of refused changes (REFUSED_CHANGE_RATE_LIMIT) before a refusal
  // is audited; its error (RateLimited) answers instead of the refusal, unaudited. None: the
  // command line, which holds every permission.
  std::function<Result<void>()> spend_refusal;
};

// User administration (API.md, Users). The caller has already been authorised for the route;
// this enforces the data rules: the target's permissions (and a new role's) must be a subset of
// the actor's (Forbidden otherwise), unique email/username, known roles, never removing or
// demoting the last active admin; it ends a deactivated user's sessions, tokens and API keys for
// good, keeps the user cache true and audits every change. Thread-safe.
class UserService {
 public:
  UserService(store::Store& store, const rbac::Policy& policy, UserCache& cache,
              audit::AuditLog& audit, const core::Clock& clock, ApiKeyService& keys,
              SessionEnd& sessions)
      : store_(store),
        policy_(policy),
        cache_(cache),
        audit_(audit),
        clock_(clock),
        keys_(keys),
        sessions_(sessions) {}

  [[nodiscard]] Result<UserPage> list(std::int64_t limit, std::int64_t offset);
  [[nodiscard]] Result<store::User> get(std::int64_t id);
  // UserNotFound when nobody has this email.
  [[nodiscard]] Result<store::User> findByEmail(const std::string& email);
  // Validation for bad email/username, UserNotFound, Forbidden, EmailTaken/UsernameTaken,
  // LastAdmin. The user before and after, as the update's own transaction saw them.
  [[nodiscard]] Result<store::UserChange> update(std::int64_t id, const store::UserPatch& patch,
                                                 const Actor& actor, const ClientInfo& client);
  // UserNotFound, Forbidden, LastAdmin.
  [[nodiscard]] Result<void> remove(std::int64_t id, const Actor& actor, const ClientInfo& client);
  // Validation for an unknown role; Forbidden when the target or the role exceeds the actor.
  [[nodiscard]] Result<store::User> setRole(std::int64_t id, const std::string& role,
                                            const Actor& actor, const ClientInfo& client);
  // Ends every session of the user, and their access tokens on every node: UserNotFound,
  // Forbidden (the target above the actor's rights).
  [[nodiscard]] Result<void> endSessions(std::int64_t id, const Actor& actor,
                                         const ClientInfo& client);
  // The user, when the actor may act on them (for what another service then does, such as an
  // administrator setting a password): UserNotFound, Forbidden (audited).
  [[nodiscard]] Result<store::User> target(std::int64_t id, const Actor& actor,
                                           const ClientInfo& client);

 private:
  [[nodiscard]] Result<store::UserChange> apply(std::int64_t id, const store::UserPatch& patch,
                                                const Actor& actor, const ClientInfo& client);
  // After a committed update: the audit records of what changed, the ended sessions' tokens (a
  // deactivation) and the caches.
  [[nodiscard]] Result<store::UserChange> changedUser(store::UserChange change,
                                                      const std::vector<std::string>& ending,
                                                      const Actor& actor, const ClientInfo& client);
  // Forbidden (audited as user.change_refused) unless every permission of `role` is among the
  // actor's.
  [[nodiscard]] Result<void> withinRights(std::string_view role, const Actor& actor,
                                          std::int64_t target, const ClientInfo& client);

  store::Store& store_;
  const rbac::Policy& policy_;
  UserCache& cache_;
  audit::AuditLog& audit_;
  const core::Clock& clock_;
  ApiKeyService& keys_;
  SessionEnd& sessions_;
};

}  // namespace gatehouse::auth
