#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/errors.hpp"
#include "rbac/policy.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

struct UserPage {
  std::vector<store::User> items;
  std::int64_t total = 0;
};

// User administration (API.md, Users). The caller has already been authorised; this enforces
// the data rules: unique email/username, known roles, never removing or demoting the last active
// admin, and revoking a deactivated user's sessions. Thread-safe.
class UserService {
 public:
  UserService(store::Store& store, const rbac::Policy& policy) : store_(store), policy_(policy) {}

  Result<UserPage> list(std::int64_t limit, std::int64_t offset);
  Result<store::User> get(std::int64_t id);
  // Validation for bad email/username, UserNotFound, EmailTaken/UsernameTaken, LastAdmin.
  Result<store::User> update(std::int64_t id, const store::UserPatch& patch);
  Result<void> remove(std::int64_t id);
  // Validation for an unknown role.
  Result<store::User> setRole(std::int64_t id, const std::string& role);

 private:
  Result<store::User> apply(std::int64_t id, const store::UserPatch& patch);

  store::Store& store_;
  const rbac::Policy& policy_;
};

}  // namespace gatehouse::auth
