#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace gatehouse::auth {

// MFA_REQUIRED_ROLES: whether `user` must enrol a second factor before anything but enrolment
// is open to them. The one reading of the setting for routes, the provider's pages and grants.
inline bool enrolmentDue(const store::User& user, const std::vector<std::string>& required_roles) {
  return !user.mfa_enabled &&
         std::find(required_roles.begin(), required_roles.end(), user.role) != required_roles.end();
}

}  // namespace gatehouse::auth
