#include "store/postgres/pg_db.hpp"

#include <cassert>
#include <cstdlib>
#include <poll.h>

#include "core/blocking.hpp"
#include "dynlib/libpq.hpp"

namespace gatehouse::store::postgres {
namespace {

using core::Errc;

// libpq, loaded by Connection::open: nothing else here runs before a connection exists.
const dynlib::LibPq& pq() { return *dynlib::libpq().value(); }

constexpr std::string_view kConflictPrefix = "conflict: ";

// "users_email_key" on table "users" → "email": the column a unique constraint or index guards
// (constraints and indexes are named <table>_<column>_key, as PostgreSQL names them itself).
std::string uniqueColumn(const PGresult* result) {
  const char* name = pq().PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
  const char* table = pq().PQresultErrorField(result, PG_DIAG_TABLE_NAME);
  std::string column = name != nullptr ? name : "";
  if (column.ends_with("_key")) column.resize(column.size() - 4);
  const std::string prefix = std::string(table != nullptr ? table : "") + "_";
  if (column.starts_with(prefix)) column.erase(0, prefix.size());
  return column;
}

// The error for a failed statement: AlreadyExists for unique violations (message: the column),
// Unavailable for lost connections, a conflict marker for retryable transaction failures.
core::Error resultError(PGconn* conn, const PGresult* result, std::string_view what) {
  const char* state =
      result != nullptr ? pq().PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  std::string detail =
      result != nullptr ? pq().PQresultErrorMessage(result) : pq().PQerrorMessage(conn);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  if (sqlstate == "23505") {
    const std::string column = uniqueColumn(result);
    return core::Error{Errc::AlreadyExists, column, core::conflictOf(column)};
  }
  if (sqlstate.starts_with("23"))
    return core::Error{Errc::FailedPrecondition, std::string(what) + ": " + detail};
  if (sqlstate == "40001" || sqlstate == "40P01")
    return core::Error{Errc::Unavailable, std::string(kConflictPrefix) + detail};
  // lock_timeout (kSessionLimits): a lock somebody holds (an operator's LOCK TABLE, a long
  // migration) is a database that cannot answer now, not an error of ours.
  if (sqlstate == "55P03" || sqlstate == "57014")  // and statement_timeout's cancel
    return core::Error{Errc::Unavailable, std::string(what) + ": database busy: " + detail};
  if (pq().PQstatus(conn) != CONNECTION_OK || sqlstate.starts_with("08") ||
      sqlstate.starts_with("57"))
    return core::Error{Errc::Unavailable, std::string(what) + ": database unavailable: " + detail};
  return core::Error{Errc::Internal, std::string(what) + ": " + detail};
}

}  // namespace

std::string withConnectTimeout(std::string url) {
  if (url.find("connect_timeout=") == std::string::npos)
    url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("connect_timeout=5");
  return url;
}

bool isConflict(const core::Error& error) {
  return error.code == Errc::Unavailable && error.message.starts_with(kConflictPrefix);
}

Rows::~Rows() {
  if (result_ != nullptr) pq().PQclear(result_);
}

int Rows::size() const { return pq().PQntuples(result_); }

std::int64_t Rows::affected() const {
  const char* n = pq().PQcmdTuples(result_);
  return n != nullptr && *n != '\0' ? std::strtoll(n, nullptr, 10) : 0;
}

std::int64_t Rows::int64(int row, int column) const {
  return std::strtoll(pq().PQgetvalue(result_, row, column), nullptr, 10);
}

std::string Rows::text(int row, int column) const {
  return {pq().PQgetvalue(result_, row, column),
          static_cast<std::size_t>(pq().PQgetlength(result_, row, column))};
}

bool Rows::boolean(int row, int column) const {
  return pq().PQgetvalue(result_, row, column)[0] == 't';
}

bool Rows::isNull(int row, int column) const { return pq().PQgetisnull(result_, row, column) != 0; }

core::Result<std::unique_ptr<Connection>> Connection::open(const std::string& url) {
  if (auto loaded = dynlib::libpq(); !loaded)
    return core::makeError(Errc::Unavailable, "PostgreSQL needs libpq5: " + loaded.error().message);
  PGconn* conn = pq().PQconnectdb(url.c_str());
  if (conn == nullptr) return core::makeError(Errc::Unavailable, "PostgreSQL: out of memory");
  if (pq().PQstatus(conn) != CONNECTION_OK) {
    // libpq may quote the URL back (one it cannot parse): its password is hidden.
    const std::string detail = dynlib::connectionError(pq(), conn, url);
    pq().PQfinish(conn);
    return core::makeError(Errc::Unavailable, "cannot connect to PostgreSQL: " + detail);
  }
  // Server notices ("relation already exists, skipping") would go to stderr unformatted.
  pq().PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  auto c = std::unique_ptr<Connection>(new Connection(conn));
  // Timestamps are Unix seconds in integer columns; keep the session predictable anyway.
  if (auto ok = c->exec("SET TIME ZONE 'UTC'"); !ok) return tl::unexpected(ok.error());
  if (auto ok = c->limitStatements(true); !ok) return tl::unexpected(ok.error());
  return c;
}

core::Status Connection::limitStatements(bool limited) {
  // An outside attack held `LOCK TABLE sessions` from psql: every request waited on it for ten
  // minutes (the server's default: no limit), workers and /readyz with them, and refreshes
  // rotated when it ended, long after their clients gave up (whose retry then counted as reuse).
  // A lock is waited for as long as SQLite's busy timeout, a statement at most 30 s: then 503.
  // Limits the operator set (ALTER ROLE/DATABASE ... SET, the URL's options) are kept (a review).
  if (!limited) return exec("SET lock_timeout = 0; SET statement_timeout = 0");
  if (auto ok = exec("RESET lock_timeout; RESET statement_timeout"); !ok) return ok;
  // Where each comes from: the server's built-in default gets ours; the configuration file's,
  // a role's, the database's or the URL's are the operator's and are kept, 0 too (a second
  // review: an explicit 0 was taken for the default).
  auto from = query(
      "SELECT name, source FROM pg_settings WHERE name IN ('lock_timeout', 'statement_timeout')",
      {});
  if (!from) return tl::unexpected(from.error());
  std::string set;
  for (int row = 0; row < from->size(); ++row) {
    if (from->text(row, 1) != "default") continue;
    set += from->text(row, 0) == "lock_timeout" ? "SET lock_timeout = '5s';"
                                                : "SET statement_timeout = '30s';";
  }
  return set.empty() ? core::Status{} : exec(set);
}

Connection::~Connection() { pq().PQfinish(conn_); }

bool Connection::healthy() const {
  return pq().PQstatus(conn_) == CONNECTION_OK && pq().PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

bool Connection::connected() const { return pq().PQstatus(conn_) == CONNECTION_OK; }

bool Connection::endedWhileIdle() const {
  const int fd = pq().PQsocket(conn_);
  if (fd < 0) return true;
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  // One system call, no wait; an error polling says nothing (the statement will).
  return ::poll(&p, 1, 0) > 0;
}

core::Status Connection::exec(std::string_view sql) {
  PGresult* result = pq().PQexec(conn_, std::string(sql).c_str());
  const Rows owned(result);
  const auto status = result != nullptr ? pq().PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    return tl::unexpected(resultError(conn_, result, "exec"));
  return {};
}

core::Result<Rows> Connection::query(std::string_view sql, std::initializer_list<Param> params) {
  auto it = prepared_.find(std::string(sql));
  if (it == prepared_.end()) {
    const std::string name = "s" + std::to_string(prepared_.size());
    PGresult* prep = pq().PQprepare(conn_, name.c_str(), std::string(sql).c_str(),
                                    static_cast<int>(params.size()), nullptr);
    const Rows owned(prep);
    if (prep == nullptr || pq().PQresultStatus(prep) != PGRES_COMMAND_OK)
      return tl::unexpected(resultError(conn_, prep, "prepare"));
    it = prepared_.emplace(std::string(sql), name).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) {
    // Refused, never cut short: "kiki\0x" looked up kiki, under a lockout key of its own (found
    // by a review). PostgreSQL's text cannot hold a NUL at all.
    if (p.holdsNul())
      return core::makeError(core::Errc::InvalidArgument, "a text parameter holds a NUL byte");
    values.push_back(p.data());
  }
  PGresult* result = pq().PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(values.size()),
                                         values.data(), nullptr, nullptr, 0);
  Rows rows(result);
  const auto status = result != nullptr ? pq().PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    return tl::unexpected(resultError(conn_, result, "query"));
  return rows;
}

core::Result<std::unique_ptr<Connection>> ConnectionPool::acquire() {
  assert(!core::NoWaitScope::active() &&
         "storage must not be waited on here: see core::NoWaitScope");
  {
    std::unique_lock lock(mutex_);
    // Not bounded: each holder's statements are (limitStatements), and an audit record of an
    // action already committed must wait for a connection, not be dropped (a review).
    available_.wait(lock, [this] { return !idle_.empty() || open_ < capacity_; });
    std::size_t dropped = 0;
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (!conn->endedWhileIdle()) {
        if (dropped > 0) available_.notify_all();  // the slots freed, for other waiters
        return conn;
      }
      // Ended by the server meanwhile (its first statement would fail): a fresh one instead.
      conn.reset();
      --open_;
      ++dropped;
    }
    // This one takes one of the freed slots; the others are for other waiters (a review).
    if (dropped > 1) available_.notify_all();
    ++open_;  // reserve a slot, then connect without holding the lock
  }
  auto conn = Connection::open(url_);
  if (!conn) {
    const std::lock_guard lock(mutex_);
    --open_;
    available_.notify_one();
  }
  return conn;
}

ConnectionPool::Lease::~Lease() {
  const std::lock_guard lock(pool.mutex_);
  if (conn->healthy()) {
    pool.idle_.push_back(std::move(conn));
  } else {
    conn.reset();  // lost: the next acquire opens a fresh one
    --pool.open_;
  }
  pool.available_.notify_one();
}

}  // namespace gatehouse::store::postgres
