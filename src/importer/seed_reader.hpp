#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/error.hpp"

namespace gatehouse::importer {

// One row of the FastAPI seed's `users` table, as an import item (API.md, Moving in): email,
// username, role, is_active, created_at and hashed_password as password_hash.
struct SeedRow {
  std::string id;  // users.id, the `sub` of the seed's tokens
  boost::json::object item;
};

// Reads the seed's users table, in id order, from its SQLAlchemy DATABASE_URL:
// sqlite:///relative.db, sqlite:////absolute.db (also sqlite+aiosqlite://), or
// postgresql[+driver]://user:password@host:port/db (postgres:// too). The database is opened
// read-only and never changed. `each` gets up to `batch` rows at a time and returns false to stop.
// InvalidArgument for another URL or a table without the seed's columns; Unavailable when the
// database cannot be opened.
[[nodiscard]] core::Status readSeedUsers(const std::string& url, std::size_t batch,
                                         const std::function<bool(std::vector<SeedRow>&&)>& each);

// SQLAlchemy's text for a DateTime ("2026-12-02 10:00:00.123456", PostgreSQL's "...+00") as
// RFC 3339, naive times taken as UTC.
std::string seedTimeAsRfc3339(std::string_view text);

}  // namespace gatehouse::importer
