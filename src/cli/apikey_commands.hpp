#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/key_access.hpp"
#include "config/config.hpp"
#include "rbac/policy.hpp"

namespace gatehouse::cli {

// `gatehouse apikey create|list|revoke`, for automation. The key is printed once by create;
// exit codes as the user commands.
struct ApiKeyCreate {
  std::string email;
  std::string name;
  std::vector<std::string> scopes;  // empty: the owner's permissions
  std::optional<std::int64_t> expires_in_days;
};

int apiKeyCreate(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                 const ApiKeyCreate& args, std::ostream& out, std::ostream& err);
int apiKeyList(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
               const std::string& email, std::ostream& out, std::ostream& err);
int apiKeyRevoke(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                 const std::string& email, std::int64_t id, std::ostream& out, std::ostream& err);

}  // namespace gatehouse::cli
