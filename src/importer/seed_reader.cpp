#include "importer/seed_reader.hpp"

#include <map>

#include <sqlite3.h>

#include "auth/validation.hpp"
#include "dynlib/libpq.hpp"
#include "importer/import_item.hpp"

namespace gatehouse::importer {
namespace {

using core::Errc;
using core::makeError;

// The columns read, by name; the seed's model has them all but created_at may be missing.
constexpr const char* kRequired[] = {"id",   "email",    "username", "hashed_password",
                                     "role", "is_active"};

bool truthy(std::string_view v) { return v == "1" || v == "t" || v == "true" || v == "TRUE"; }

// Builds the import item of one row given its columns by name (NULL columns absent).
SeedRow toRow(const std::map<std::string, std::string>& columns) {
  SeedRow row;
  if (auto it = columns.find("id"); it != columns.end()) row.id = it->second;  // else NULL
  boost::json::object& o = row.item;
  for (const char* name : {"email", "username", "role"}) {
    if (auto it = columns.find(name); it != columns.end()) o[name] = it->second;
  }
  // The seed names users who signed in with Google after their display name, which may hold
  // spaces: such a name is made from the email instead.
  if (const auto name = columns.find("username"), email = columns.find("email");
      name != columns.end() && email != columns.end() &&
      !auth::usernameProblem(name->second).empty())
    o["username"] = usernameFromEmail(email->second);
  if (auto it = columns.find("hashed_password"); it != columns.end())
    o["password_hash"] = it->second;
  if (auto it = columns.find("is_active"); it != columns.end()) o["is_active"] = truthy(it->second);
  if (auto it = columns.find("created_at"); it != columns.end())
    o["created_at"] = seedTimeAsRfc3339(it->second);
  return row;
}

core::Status checkColumns(const std::vector<std::string>& names) {
  for (const char* required : kRequired) {
    if (std::find(names.begin(), names.end(), required) == names.end())
      return makeError(Errc::InvalidArgument, std::string("the users table has no column ") +
                                                  required +
                                                  " (is this the FastAPI seed's database?)");
  }
  return {};
}

core::Status readSqlite(const std::string& path, std::size_t batch,
                        const std::function<bool(std::vector<SeedRow>&&)>& each) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return makeError(Errc::Unavailable, "cannot open the seed database " + path);
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT * FROM users ORDER BY id", -1, &stmt, nullptr) != SQLITE_OK) {
    std::string why = sqlite3_errmsg(db);
    sqlite3_close(db);
    return makeError(Errc::InvalidArgument, "the seed database has no users table: " + why);
  }
  std::vector<std::string> names;
  for (int i = 0; i < sqlite3_column_count(stmt); ++i)
    names.emplace_back(sqlite3_column_name(stmt, i));
  core::Status status = checkColumns(names);
  std::vector<SeedRow> rows;
  int rc = SQLITE_ROW;
  while (status && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    std::map<std::string, std::string> columns;
    for (int i = 0; i < static_cast<int>(names.size()); ++i) {
      if (sqlite3_column_type(stmt, i) == SQLITE_NULL) continue;
      const auto* text = sqlite3_column_text(stmt, i);
      columns[names[static_cast<std::size_t>(i)]] =
          std::string(reinterpret_cast<const char*>(text),
                      static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
    }
    rows.push_back(toRow(columns));
    if (rows.size() == batch && !each(std::exchange(rows, {}))) break;
  }
  if (status && rc != SQLITE_ROW && rc != SQLITE_DONE)
    status = makeError(Errc::Unavailable,
                       std::string("reading the seed database: ") + sqlite3_errmsg(db));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (status && !rows.empty()) each(std::move(rows));
  return status;
}

core::Status readPostgres(const std::string& url, std::size_t batch,
                          const std::function<bool(std::vector<SeedRow>&&)>& each) {
  auto loaded = dynlib::libpq();
  if (!loaded)
    return core::makeError(core::Errc::Unavailable,
                           "PostgreSQL needs libpq5: " + loaded.error().message);
  const dynlib::LibPq& pq = **loaded;
  PGconn* conn = pq.PQconnectdb(url.c_str());
  if (pq.PQstatus(conn) != CONNECTION_OK) {
    const std::string why = dynlib::connectionError(pq, conn, url);
    pq.PQfinish(conn);
    return makeError(Errc::Unavailable, "cannot connect to the seed database: " + why);
  }
  // One read-only transaction: a consistent snapshot, and nothing can be written by mistake.
  PGresult* begin = pq.PQexec(conn, "BEGIN READ ONLY");
  pq.PQclear(begin);
  PGresult* res = pq.PQexec(conn, "SELECT * FROM users ORDER BY id");
  core::Status status;
  if (pq.PQresultStatus(res) != PGRES_TUPLES_OK) {
    std::string why = pq.PQresultErrorMessage(res);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    status = makeError(Errc::InvalidArgument, "reading the seed's users table: " + why);
  } else {
    std::vector<std::string> names;
    for (int i = 0; i < pq.PQnfields(res); ++i) names.emplace_back(pq.PQfname(res, i));
    status = checkColumns(names);
    std::vector<SeedRow> rows;
    for (int r = 0; status && r < pq.PQntuples(res); ++r) {
      std::map<std::string, std::string> columns;
      for (int i = 0; i < static_cast<int>(names.size()); ++i) {
        if (pq.PQgetisnull(res, r, i) != 0) continue;
        columns[names[static_cast<std::size_t>(i)]] = std::string(
            pq.PQgetvalue(res, r, i), static_cast<std::size_t>(pq.PQgetlength(res, r, i)));
      }
      rows.push_back(toRow(columns));
      if (rows.size() == batch && !each(std::exchange(rows, {}))) {
        rows.clear();
        break;
      }
    }
    if (status && !rows.empty()) each(std::move(rows));
  }
  pq.PQclear(res);
  pq.PQfinish(conn);
  return status;
}

}  // namespace

std::string seedTimeAsRfc3339(std::string_view text) {
  std::string t(text);
  if (t.size() > 10 && t[10] == ' ') t[10] = 'T';
  const auto tz = t.find_first_of("+-Zz", 19);
  if (tz == std::string::npos) return t + "Z";
  if (t.size() - tz == 3) t += ":00";  // PostgreSQL's "+00"
  return t;
}

core::Status readSeedUsers(const std::string& url, std::size_t batch,
                           const std::function<bool(std::vector<SeedRow>&&)>& each) {
  std::string u = url;
  // SQLAlchemy names a driver after '+': postgresql+asyncpg://, sqlite+aiosqlite://.
  if (const auto plus = u.find('+'), scheme = u.find("://");
      plus != std::string::npos && scheme != std::string::npos && plus < scheme)
    u.erase(plus, scheme - plus);
  if (u.starts_with("sqlite:///") && u.size() > 10) return readSqlite(u.substr(10), batch, each);
  if (u.starts_with("postgresql://") || u.starts_with("postgres://"))
    return readPostgres(u, batch, each);
  return makeError(Errc::InvalidArgument,
                   "--database-url: expected the seed's sqlite:///path or postgresql://... URL");
}

}  // namespace gatehouse::importer
