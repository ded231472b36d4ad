#pragma once

#include <ostream>
#include <string>

#include "cli/key_access.hpp"
#include "config/config.hpp"
#include "op/clients.hpp"
#include "rbac/policy.hpp"

namespace gatehouse::cli {

// `gatehouse client create|list|delete|rotate-secret`: the OpenID Provider's client registry
// (API.md), as /api/v1/clients. `secret_key` is the key client secrets are hashed under (the
// server's). A secret is printed once; with `json`, one JSON object on stdout. Exit codes: 0, 1
// on failure (the reason on `err`), 2 for a refused request (bad URI, unknown client).
int clientCreate(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                 const std::string& secret_key, const op::NewClient& request, bool json,
                 std::ostream& out, std::ostream& err);
int clientList(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
               bool json, std::ostream& out, std::ostream& err);
int clientDelete(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                 const std::string& client_id, std::ostream& out, std::ostream& err);
int clientRotateSecret(const config::Config& config, const rbac::Policy& policy,
                       const KeyAccess& access, const std::string& secret_key,
                       const std::string& client_id, bool json, std::ostream& out,
                       std::ostream& err);

}  // namespace gatehouse::cli
