#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace gatehouse::app {

// Files the process holds besides its clients' connections and its database connections: Redis's,
// the logs, outbound connections (providers, SMTP), SQLite's, key and page files.
inline constexpr std::uint64_t kFilesBesideConnections = 128;

// The open-file limit a server starts with, raised to the most the system allows (the hard
// limit, or fs.nr_open when that is lower): a shell's usual 1024 is below
// GATEHOUSE_MAX_CONNECTIONS' default plus what the rest holds, and past it new clients waited
// unanswered in the backlog (an outside attack). The limit now in force.
std::uint64_t raiseOpenFileLimit();

// What to say when `limit` leaves fewer than `max_connections` for clients beside the
// `database_connections` and the rest; nothing when it does not.
std::optional<std::string> openFileWarning(std::uint64_t limit, std::size_t max_connections,
                                           std::size_t database_connections);

}  // namespace gatehouse::app
