#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app/page_setup.hpp"
#include "app/passkey_setup.hpp"
#include "config/config.hpp"
#include "mail/templates.hpp"
#include "rbac/policy.hpp"

namespace gatehouse::app {

// What `serve` checks before it opens anything, and `gatehouse config --check` reports: the policy
// file, mail templates and sender, the pages' cookie domain, the passkey origins and trust store,
// the key-encryption key file and that the data directory can be written. With `open_database`
// (config --check; serve opens it next anyway): the keys stored there open with this node's
// key-encryption key, and an old-layout key file that would be imported fits ALGORITHM (read,
// never made).
struct Preflight {
  // Each one line naming its setting; empty when everything would start.
  std::vector<std::string> problems;
  std::vector<std::string> warnings;  // what serve would log and start all the same
  // What the checks read, for serve to use as it was checked rather than read again (a file
  // changed in between would start unchecked). Each is set when no problem is about it.
  std::optional<rbac::Policy> policy;
  std::optional<mail::Templates> templates;
  PageSetup pages;
  PasskeySetup passkeys;
};
Preflight preflight(const config::Config& config, bool open_database = false);

}  // namespace gatehouse::app
