#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/error.hpp"

namespace gatehouse::store {
class Store;
}

namespace gatehouse::cli {

// What a command that changes an account's ways in needs to queue the notice the API's same change
// queues (mail::Notice): the master secret the outbox's sealing and the links' keys derive from,
// read from the store the command opened and never made (app::storedMasterSecret: nullopt before
// the server's first start made it), and the address links point to.
struct MailAccess {
  std::function<core::Result<std::optional<std::string>>(store::Store&)> master_secret;
  std::string public_url;
};

}  // namespace gatehouse::cli
