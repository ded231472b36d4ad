#pragma once

#include <filesystem>
#include <memory>

#include "store/store.hpp"

namespace gatehouse::store::sqlite {

// The SQLite backend: WAL, synchronous=FULL, a small connection pool, prepared statements only.
// Opens (creating the file and its folder) and leaves migration to migrate().
[[nodiscard]] core::Result<std::unique_ptr<Store>> openSqliteStore(
    const std::filesystem::path& path);

}  // namespace gatehouse::store::sqlite
