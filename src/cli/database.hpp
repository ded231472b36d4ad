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

}  // namespace gatehouse::cli
