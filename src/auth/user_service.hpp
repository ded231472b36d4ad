#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
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

// User administration (API.md, Users). The caller has already been authorised; this enforces
// the data rules: unique email/username, known roles, never removing or demoting the last active
// admin; it revokes a deactivated user's sessions and tokens, keeps the user cache true and
// audits every change. Thread-safe.
class UserService {
 public:
  UserService(store::Store& store, const rbac::Policy& policy, UserCache& cache,
              audit::AuditLog& audit, const core::Clock& clock)
      : store_(store), policy_(policy), cache_(cache), audit_(audit), clock_(clock) {}

  Result<UserPage> list(std::int64_t limit, std::int64_t offset);
  Result<store::User> get(std::int64_t id);
  // Validation for bad email/username, UserNotFound, EmailTaken/UsernameTaken, LastAdmin.
  Result<store::User> update(std::int64_t id, const store::UserPatch& patch, std::int64_t actor,
                             const ClientInfo& client);
  Result<void> remove(std::int64_t id, std::int64_t actor, const ClientInfo& client);
  // Validation for an unknown role.
  Result<store::User> setRole(std::int64_t id, const std::string& role, std::int64_t actor,
                              const ClientInfo& client);

 private:
  Result<store::User> apply(std::int64_t id, const store::UserPatch& patch, std::int64_t actor,
                            const ClientInfo& client);

  store::Store& store_;
  const rbac::Policy& policy_;
  UserCache& cache_;
  audit::AuditLog& audit_;
  const core::Clock& clock_;
};

}  // namespace gatehouse::auth
