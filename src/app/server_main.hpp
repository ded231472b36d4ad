#pragma once

#include "config/config.hpp"
#include "rbac/policy.hpp"

namespace gatehouse::app {

// The composition root: builds storage, keys, hashing, services and the HTTP server from the
// configuration and serves until SIGINT/SIGTERM. Returns the process exit code.
int serve(const config::Config& config);

// Loads the policy file named by the configuration, or the defaults.
[[nodiscard]] core::Result<rbac::Policy> loadPolicy(const config::Config& config);

}  // namespace gatehouse::app
