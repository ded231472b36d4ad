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
  // PRAGMA query_only, once: writes fail with SQLITE_READONLY (ConnectionPool::refuseWrites).
  [[nodiscard]] core::Status refuseWrites();
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

  // From now on every connection refuses writes (SQLITE_READONLY, Unavailable): the WAL file
  // was removed or replaced under the server (SqliteStore::intact), and what it writes would be
  // lost at its next crash.
  void refuseWrites();
  const std::filesystem::path& path() const { return path_; }

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

  std::filesystem::path path_;
  std::atomic<bool> refusing_{false};
  std::size_t size_ = 0;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t opened_ = 0;  // idle or leased
};

}  // namespace gatehouse::store::sqlite
