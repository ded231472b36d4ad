#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace gatehouse::app {

// What `serve` checks before it opens anything, and `gatehouse config --check` reports: the policy
// file, mail templates and sender, the pages' cookie domain, the passkey origins and trust store,
// the key-encryption key file and that the data directory can be written. With `open_database`
// (config --check; serve opens it next anyway): the keys stored there open with this node's
// key-encryption key, and an old-layout key file that would be imported fits ALGORITHM (read,
// never made). Each problem is one line naming its setting; empty when everything would start.
std::vector<std::string> preflight(const config::Config& config, bool open_database = false);

}  // namespace gatehouse::app
