#pragma once

#include <memory>
#include <ostream>

#include "config/config.hpp"
#include "store/store.hpp"

namespace gatehouse::cli {

// The configured database, migrated, for every command but serve and migrate: a SQLite file that
// does not exist is an error naming it (one run in the wrong folder must not quietly create a
// second, empty database). Null after writing the reason to `err`.
std::unique_ptr<store::Store> openExisting(const config::Config& config, std::ostream& err);

// True, after writing why to `err`, when the command runs as root on a SQLite database in a
// directory (or below one) that another account can write: the service's own data directory,
// where that account could put a link in place of the database, its -wal, -shm or -journal
// file, and root would create or overwrite the file it names (an outside attack). The path is
// followed link by link, so a link in such a directory counts wherever it leads. The command
// is then run as that account. PostgreSQL, and root's own directories, are not affected.
bool refusesRootInAnotherUsersDirectory(const config::Config& config, std::ostream& err);

// True, after writing why to `err`, when AUDIT_LOG_FILE is set and this process cannot append
// to it: a command that changes something checks it first and changes nothing then (the
// exported audit stream would miss it; an outside attack).
bool refusesWithoutAuditSink(const config::Config& config, std::ostream& err);

}  // namespace gatehouse::cli
