#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/error.hpp"

namespace gatehouse::store {
class Store;
}

namespace gatehouse::cli {

// The server's keys as a command reaches them: the master secret its audit records are keyed
// under, and the outbox's sealing and the links' keys derive from (for the notices the API's same
// change queues, mail::Notice), read from the store the command opened and never made
// (app::storedMasterSecret: nullopt before the server's first start made it); and the address
// links point to.
struct KeyAccess {
  std::function<core::Result<std::optional<std::string>>(store::Store&)> master_secret;
  std::string public_url;
  // The same for a command that only reads (`audit verify`): nullopt, not an error, when the
  // data was keyed under a master secret the ring no longer holds (an emptied ring is what it
  // reports then).
  std::function<core::Result<std::optional<std::string>>(store::Store&)> master_secret_to_read;
};

}  // namespace gatehouse::cli
