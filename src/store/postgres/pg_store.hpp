#pragma once

#include <memory>
#include <string>

#include "store/store.hpp"

namespace gatehouse::store::postgres {

// The PostgreSQL backend (DATABASE_URL=postgresql://...): every repository through libpq with a
// pool of `pool_size` connections. Connects lazily, so a database that is down at startup is
// reported by the first use (migrate) rather than by opening.
[[nodiscard]] core::Result<std::unique_ptr<Store>> openPostgresStore(const std::string& url,
                                                                     std::size_t pool_size = 8);

}  // namespace gatehouse::store::postgres
