#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "cli/key_access.hpp"
#include "config/config.hpp"
#include "rbac/policy.hpp"

namespace gatehouse::cli {

// Admin subcommands against the configured database, through the server's services (audited
// as actor "cli"). Each returns the process exit code
// (0 ok, 1 failure with a one-line reason on `err`) and never prints a password or hash.
struct UserCreate {
  std::string email;
  std::string username;
  std::string role = "user";
  std::string password;
  bool email_verified = false;  // the operator vouches for the address
};

int migrate(const config::Config& config, std::ostream& out, std::ostream& err);
int userCreate(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
               const UserCreate& args, std::ostream& out, std::ostream& err);
int userList(const config::Config& config, std::ostream& out, std::ostream& err);
int userSetRole(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                const std::string& email, const std::string& role, std::ostream& out,
                std::ostream& err);
// Checks the audit log's hash chain and the records' keys (audit::verifyChain; `unkeyed_before`
// as its option): 0 when intact, 1 naming the first bad record.
int auditVerify(const config::Config& config, const KeyAccess& access, std::int64_t unkeyed_before,
                std::ostream& out, std::ostream& err);
int userSetActive(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                  const std::string& email, bool active, std::ostream& out, std::ostream& err);
// Sets a user's password (policy checked) and ends their sessions and, unless kept, their API
// keys, in one transaction; audited. With mail configured, the password-changed notice is queued
// as the API queues it (Context::openMail says when a notice that cannot be queued stops the
// command before it changes anything).
int userSetPassword(const config::Config& config, const rbac::Policy& policy,
                    const KeyAccess& access, const std::string& email, const std::string& password,
                    bool keep_api_keys, std::ostream& out, std::ostream& err);

// Removes every second factor and recovery code of the user (they lost their device); audited.
// The factor-removed notice likewise, when a confirmed factor went.
int userResetMfa(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                 const std::string& email, std::ostream& out, std::ostream& err);

}  // namespace gatehouse::cli
