#pragma once

#include <istream>
#include <ostream>
#include <string>

#include "cli/key_access.hpp"
#include "config/config.hpp"
#include "rbac/policy.hpp"

namespace gatehouse::cli {

// `gatehouse user import FILE|-`: JSON lines (API.md, Moving in from elsewhere), a thousand per
// transaction. One JSON result per line on `out`, the totals on `err`. Exit 0 when no line was an
// error, 1 otherwise (and when storage fails: what earlier batches created stays).
int userImport(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
               std::istream& in, std::ostream& out, std::ostream& err);

// `gatehouse import-seed --database-url URL`: the FastAPI seed's users table read in place, each
// user remembered under its seed id so the seed's tokens (LEGACY_SECRET_KEY) name them.
int importSeed(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
               const std::string& url, std::ostream& out, std::ostream& err);

}  // namespace gatehouse::cli
