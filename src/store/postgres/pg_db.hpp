#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.hpp"

struct pg_conn;
struct pg_result;

namespace gatehouse::store::postgres {

// `url` with connect_timeout=5 unless it names one: libpq waits for a connection forever by
// default, and a node should report an unreachable database within seconds instead.
std::string withConnectTimeout(std::string url);

// A serialization failure or deadlock (SQLSTATE 40001/40P01): the transaction may be retried.
bool isConflict(const core::Error& error);

// One statement parameter in PostgreSQL's text format; nullopt is SQL NULL.
class Param {
 public:
  Param(std::int64_t v) : value_(std::to_string(v)) {}   // NOLINT(google-explicit-constructor)
  Param(int v) : value_(std::to_string(v)) {}            // NOLINT(google-explicit-constructor)
  Param(bool v) : value_(v ? "t" : "f") {}               // NOLINT(google-explicit-constructor)
  Param(std::string_view v) : value_(std::string(v)) {}  // NOLINT(google-explicit-constructor)
  Param(const std::string& v) : value_(v) {}             // NOLINT(google-explicit-constructor)
  Param(const char* v) : value_(std::string(v)) {}       // NOLINT(google-explicit-constructor)
  Param(std::optional<std::int64_t> v)                   // NOLINT(google-explicit-constructor)
      : value_(v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt) {}
  Param(std::nullopt_t) {}  // NOLINT(google-explicit-constructor)
  const char* data() const { return value_ ? value_->c_str() : nullptr; }
  // libpq sends text parameters up to their first NUL: such a value would arrive cut short.
  bool holdsNul() const { return value_ && value_->find('\0') != std::string::npos; }

 private:
  std::optional<std::string> value_;
};

// The rows of one completed statement (owns the PGresult).
class Rows {
 public:
  explicit Rows(pg_result* result) : result_(result) {}
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  Rows(Rows&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
  Rows& operator=(Rows&&) = delete;
  ~Rows();

  int size() const;
  bool empty() const { return size() == 0; }
  // Rows changed by INSERT/UPDATE/DELETE.
  std::int64_t affected() const;
  std::int64_t int64(int row, int column) const;
  std::string text(int row, int column) const;
  bool boolean(int row, int column) const;
  bool isNull(int row, int column) const;

 private:
  pg_result* result_;
};

// One libpq connection with the statements it has prepared. Not thread-safe: the pool lends it to
// one thread at a time.
class Connection {
 public:
  [[nodiscard]] static core::Result<std::unique_ptr<Connection>> open(const std::string& url);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs `sql` as a named prepared statement (prepared once per connection); values always go as
  // parameters ($1, $2, ...), never into the SQL text.
  [[nodiscard]] core::Result<Rows> query(std::string_view sql,
                                         std::initializer_list<Param> params = {});
  // Runs SQL without parameters (several statements allowed: migrations, BEGIN/COMMIT).
  [[nodiscard]] core::Status exec(std::string_view sql);
  // False once the server connection is lost (or a transaction was left open); the pool then
  // replaces it.
  bool healthy() const;
  // The connection itself is up (whatever its transaction state).
  bool connected() const;
  // Whether the server ended this idle connection while it waited in the pool (a restart,
  // pg_terminate_backend, an idle-connection reaper): it says so before it closes, so anything
  // to read on an idle connection means it is gone (nothing here LISTENs).
  bool endedWhileIdle() const;
  // The limits every connection starts with: a lock waited for at most 5 s, a statement at most
  // 30 s (then Unavailable), unless postgresql.conf, the role, the database or the URL set their
  // own; lifted
  // (false) for migrations, which wait for another node's and may build indexes for minutes.
  [[nodiscard]] core::Status limitStatements(bool limited);

 private:
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  pg_conn* conn_;
  std::unordered_map<std::string, std::string> prepared_;  // sql → statement name
};

// A bounded set of connections, opened on demand and replaced when broken. Thread-safe.
class ConnectionPool {
 public:
  ConnectionPool(std::string url, std::size_t size) : url_(std::move(url)), capacity_(size) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Runs `fn` with a connection held exclusively; Unavailable when none can be opened.
  template <class T>
  [[nodiscard]] core::Result<T> with(const std::function<core::Result<T>(Connection&)>& fn) {
    auto lease = acquire();
    if (!lease) return tl::unexpected(lease.error());
    Lease held(*this, std::move(*lease));
    return fn(*held.conn);
  }

  // Runs `fn` inside BEGIN … COMMIT at READ COMMITTED, said rather than assumed: the stores'
  // lock-then-count transactions (a user's API keys, factors) rely on each statement seeing what
  // committed before it, which a server whose default_transaction_isolation is REPEATABLE READ
  // would not give. Rolled back when `fn` returns an error; serialization failures and deadlocks
  // are retried a few times. A connection lost before COMMIT was sent (the server rolled the
  // transaction back) is retried once on a fresh one: an outside attack cut connections under a
  // burst and the audit records of confirmed actions were dropped. One lost during COMMIT is
  // not: whether it committed is unknown.
  template <class T>
  [[nodiscard]] core::Result<T> transaction(const std::function<core::Result<T>(Connection&)>& fn) {
    bool reconnected = false;
    for (int attempt = 0;; ++attempt) {
      auto lease = acquire();
      if (!lease) return tl::unexpected(lease.error());
      Lease held(*this, std::move(*lease));
      Connection& c = *held.conn;
      core::Result<T> result = tl::unexpected(core::Error{core::Errc::Internal, ""});
      bool committing = false;
      if (auto begin = c.exec("BEGIN ISOLATION LEVEL READ COMMITTED"); !begin) {
        result = tl::unexpected(begin.error());
      } else {
        result = fn(c);
        if (result) {
          committing = true;
          auto commit = c.exec("COMMIT");
          if (commit) return result;
          result = tl::unexpected(commit.error());
        } else if (c.connected()) {
          (void)c.exec("ROLLBACK");
        }
      }
      if (!committing && !c.connected() && !reconnected) {
        reconnected = true;
        continue;
      }
      if (!isConflict(result.error()) || attempt >= 4) return result;
    }
  }

 private:
  struct Lease {
    Lease(ConnectionPool& p, std::unique_ptr<Connection> c) : pool(p), conn(std::move(c)) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ConnectionPool& pool;
    std::unique_ptr<Connection> conn;
  };
  [[nodiscard]] core::Result<std::unique_ptr<Connection>> acquire();

  const std::string url_;
  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;  // connections lent out or idle
};

}  // namespace gatehouse::store::postgres
