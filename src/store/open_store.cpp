#include "store/postgres/pg_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"

namespace gatehouse::store {

core::Result<std::unique_ptr<Store>> openStore(const std::string& database_url,
                                               std::size_t pool_size) {
  constexpr std::string_view kSqlite = "sqlite:///";
  if (database_url.starts_with(kSqlite) && database_url.size() > kSqlite.size()) {
    return sqlite::openSqliteStore(database_url.substr(kSqlite.size()));
  }
  if (database_url.starts_with("postgresql://") || database_url.starts_with("postgres://")) {
    return postgres::openPostgresStore(database_url, pool_size);
  }
  return core::makeError(core::Errc::InvalidArgument, "DATABASE_URL: unsupported database URL");
}

}  // namespace gatehouse::store
