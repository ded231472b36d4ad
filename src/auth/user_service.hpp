#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/api_keys.hpp"
#include "auth/auth_service.hpp"
#include "auth/errors.hpp"
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
struct Actor {
  std::int64_t id = 0;
  std::vector<std::string> permissions;
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
              AuthService& auth)
      : store_(store),
        policy_(policy),
        cache_(cache),
        audit_(audit),
        clock_(clock),
        keys_(keys),
        auth_(auth) {}

  Result<UserPage> list(std::int64_t limit, std::int64_t offset);
  Result<store::User> get(std::int64_t id);
  // Validation for bad email/username, UserNotFound, Forbidden, EmailTaken/UsernameTaken,
  // LastAdmin.
  Result<store::User> update(std::int64_t id, const store::UserPatch& patch, const Actor& actor,
                             const ClientInfo& client);
  // UserNotFound, Forbidden, LastAdmin.
  Result<void> remove(std::int64_t id, const Actor& actor, const ClientInfo& client);
  // Validation for an unknown role; Forbidden when the target or the role exceeds the actor.
  Result<store::User> setRole(std::int64_t id, const std::string& role, const Actor& actor,
                              const ClientInfo& client);

 private:
  Result<store::User> apply(std::int64_t id, const store::UserPatch& patch, const Actor& actor,
                            const ClientInfo& client);
  // Forbidden (audited as user.change_refused) unless every permission of `role` is among the
  // actor's.
  Result<void> withinRights(std::string_view role, const Actor& actor, std::int64_t target,
                            const ClientInfo& client);

  store::Store& store_;
  const rbac::Policy& policy_;
  UserCache& cache_;
  audit::AuditLog& audit_;
  const core::Clock& clock_;
  ApiKeyService& keys_;
  AuthService& auth_;
};

}  // namespace gatehouse::auth
