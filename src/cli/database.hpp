#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "config/config.hpp"
#include "store/store.hpp"

namespace gatehouse::cli {

// The configured database, migrated, for every command but serve and migrate: a SQLite file that
// does not exist, or is empty, is an error naming it (one run in the wrong folder must not
// quietly create a second, empty database). Null after writing the reason to `err`.
std::unique_ptr<store::Store> openExisting(const config::Config& config, std::ostream& err);

// Why the SQLite database must not be made afresh, if it must not: the file is missing or empty
// while the data folder holds the key-encryption key a first start generated (made after the
// database and its tables), so a database was here and is lost: a restore, not a first start
// (found by a crash test: an emptied file started afresh, and new users took old users' ids).
// serve, migrate, config --check and every command ask.
std::optional<std::string> lostDatabase(const config::Config& config);

// True, after writing why to `err`, when the command runs as root on a SQLite database in a
// directory (or below one) that another account can write: the service's own data directory,
// where that account could put a link in place of the database, its -wal, -shm or -journal
// file, and root would create or overwrite the file it names (an outside attack). The path is
// followed link by link, so a link in such a directory counts wherever it leads. The command
// is then run as that account. PostgreSQL, and root's own directories, are not affected.
bool refusesRootInAnotherUsersDirectory(const config::Config& config, std::ostream& err);

// True, after writing why to `err`, when AUDIT_LOG_FILE is set and this process cannot append
// to it, or, as root, reaches it through a folder another account can write (as the database:
// that account could put a link on the way): a command that changes something checks it first
// and changes nothing then (the exported audit stream would miss it; an outside attack).
bool refusesWithoutAuditSink(const config::Config& config, std::ostream& err);

}  // namespace gatehouse::cli
