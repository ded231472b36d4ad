#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "core/error.hpp"

namespace gatehouse::store::sqlite {

// A prepared statement bound for one execution; reset on destruction so the cached statement is
// reusable. Not thread-safe (belongs to one connection).
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bindNull(int index);
  // SQLITE_ROW → true, SQLITE_DONE → false; anything else is an error.
  [[nodiscard]] core::Result<bool> step();
  // Runs to completion.
  [[nodiscard]] core::Status run();

  std::int64_t int64(int column) const;
  std::string text(int column) const;
  bool isNull(int column) const;

 private:
  sqlite3_stmt* stmt_;
};

// One SQLite connection with its statement cache. Not thread-safe: the pool lends it to one
// thread at a time.
class Connection {
 public:
  [[nodiscard]] static core::Result<std::unique_ptr<Connection>> open(
      const std::filesystem::path& path);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // A cached prepared statement (prepared statements only: values are always bound).
  [[nodiscard]] core::Result<Statement> prepare(std::string_view sql);
  [[nodiscard]] core::Status exec(std::string_view sql);
  std::int64_t lastInsertRowid() const;
  int changes() const;
  // Once: writes fail with SQLITE_READONLY (PRAGMA query_only), and closing keeps the -wal file
  // at the path (ConnectionPool::watchWal).
  [[nodiscard]] core::Status refuseWrites();
  // A FULL checkpoint: true when every frame of the WAL is in the database file.
  [[nodiscard]] core::Result<bool> checkpointAll();
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  bool query_only_ = false;  // PRAGMA query_only set (ConnectionPool::refuseWrites)
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// The error for a failed SQLite call, with AlreadyExists for UNIQUE violations (message: the
// violating column) and Unavailable for busy/locked databases.
core::Error sqliteError(sqlite3* db, int rc, std::string_view what);

// Up to `size` connections handed out one thread at a time. Thread-safe. One is opened at once
// (so a bad path fails the start); the others when work first needs them, so an idle server holds
// one (each costs a schema parse and a page cache). A connection that cannot be opened then is
// not an error: the lease waits for one in use.
class ConnectionPool {
 public:
  [[nodiscard]] static core::Result<std::unique_ptr<ConnectionPool>> open(
      const std::filesystem::path& path, std::size_t size);

  // Whether the -wal file at its path is the one the pool opened (SqliteStore::intact, twice a
  // second, and ping()). Once it is not, every connection refuses writes from then on (what
  // they would write went into the removed file, lost at the next crash), what the removed file
  // holds is checkpointed into the database file, and Unavailable is the answer until a restart.
  // Unavailable without that when the file cannot be looked at. Thread-safe; the caller holds no
  // lease.
  [[nodiscard]] core::Status watchWal();

  // Runs `fn` with a connection held exclusively.
  template <class F>
  auto with(F&& fn) -> decltype(fn(std::declval<Connection&>())) {
    Lease lease(*this);
    return fn(*lease.conn);
  }

  // Runs `fn` inside BEGIN IMMEDIATE … COMMIT (rolled back when it returns an error).
  template <class T>
  [[nodiscard]] core::Result<T> transaction(const std::function<core::Result<T>(Connection&)>& fn) {
    Lease lease(*this);
    Connection& c = *lease.conn;
    if (auto begin = c.exec("BEGIN IMMEDIATE"); !begin) return tl::unexpected(begin.error());
    core::Result<T> result = fn(c);
    if (!result) {
      (void)c.exec("ROLLBACK");
      return result;
    }
    if (auto commit = c.exec("COMMIT"); !commit) {
      (void)c.exec("ROLLBACK");
      return tl::unexpected(commit.error());
    }
    return result;
  }

 private:
  struct Lease {
    explicit Lease(ConnectionPool& pool);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    void queryOnlyIfRefusing();
    ConnectionPool& pool;
    std::unique_ptr<Connection> conn;
  };
  // true: the -wal file is the one seen (or none was yet); false: removed or replaced; nullopt:
  // stat failed otherwise.
  std::optional<bool> walAsSeen() const;

  std::filesystem::path path_;
  std::atomic<bool> refusing_{false};
  std::string wal_path_;  // SQLite's name for the -wal file
  std::mutex watch_mutex_;
  // The -wal file first seen: read by leases too, so atomics (seen_ set last, release).
  std::atomic<bool> seen_{false};
  std::atomic<std::uint64_t> seen_dev_{0};
  std::atomic<std::uint64_t> seen_ino_{0};
  std::string wal_broken_;  // under watch_mutex_; said from then on
  std::size_t size_ = 0;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t opened_ = 0;  // idle or leased
  bool draining_ = false;   // watchWal is gathering every connection: leases wait
};

}  // namespace gatehouse::store::sqlite
