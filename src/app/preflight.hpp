#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace gatehouse::app {

// What `serve` checks before it opens anything, and `gatehouse config --check` reports: the policy
// file, mail templates and sender, the pages' cookie domain, the passkey origins and trust store,
// the stored keys (read, never made) and that the data directory can be written. Each problem is
// one line naming its setting; empty when everything would start.
std::vector<std::string> preflight(const config::Config& config);

}  // namespace gatehouse::app
