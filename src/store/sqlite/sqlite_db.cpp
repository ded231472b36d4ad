#include "store/sqlite/sqlite_db.hpp"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sys/stat.h>

#include "core/blocking.hpp"

namespace gatehouse::store::sqlite {

using core::Errc;
using core::makeError;

core::Error sqliteError(sqlite3* db, int rc, std::string_view what) {
  const std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (rc == SQLITE_CONSTRAINT || (rc & 0xFF) == SQLITE_CONSTRAINT) {
    // "UNIQUE constraint failed: users.email" → "email"
    const auto dot = detail.rfind('.');
    if (detail.find("UNIQUE") != std::string::npos && dot != std::string::npos) {
      const std::string column = detail.substr(dot + 1);
      return core::Error{Errc::AlreadyExists, column, core::conflictOf(column)};
    }
    return core::Error{Errc::FailedPrecondition, std::string(what) + ": " + detail};
  }
  if ((rc & 0xFF) == SQLITE_BUSY || (rc & 0xFF) == SQLITE_LOCKED) {
    return core::Error{Errc::Unavailable, std::string(what) + ": database busy"};
  }
  // A full disk, or one that fails to write: the service is unavailable (503, as for a
  // PostgreSQL that does not answer), not broken (500) (an outside attack filled it).
  if ((rc & 0xFF) == SQLITE_FULL || (rc & 0xFF) == SQLITE_IOERR) {
    return core::Error{Errc::Unavailable, std::string(what) + ": " + detail};
  }
  // A file that cannot be written (its permissions, the database file moved or removed, writes
  // refused after the WAL was: ConnectionPool::refuseWrites): unavailable too, not broken.
  if ((rc & 0xFF) == SQLITE_READONLY) {
    return core::Error{Errc::Unavailable, std::string(what) + ": " + detail};
  }
  return core::Error{Errc::Internal, std::string(what) + ": " + detail};
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

core::Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(sqliteError(sqlite3_db_handle(stmt_),
                                    sqlite3_extended_errcode(sqlite3_db_handle(stmt_)), "step"));
}

core::Status Statement::run() {
  for (;;) {
    auto more = step();
    if (!more) return tl::unexpected(more.error());
    if (!*more) return {};
  }
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

bool Statement::isNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

core::Result<std::unique_ptr<Connection>> Connection::open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    core::Error e = sqliteError(db, rc, "open " + path.string());
    sqlite3_close(db);
    e.code = Errc::Unavailable;
    return tl::unexpected(e);
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  // WAL for concurrent readers; synchronous=FULL so a committed row survives a crash or power
  // loss, not only a killed process; foreign keys for cascades.
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto ok = conn->exec(pragma); !ok) return tl::unexpected(ok.error());
  }
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

core::Result<Statement> Connection::prepare(std::string_view sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) return Statement(it->second);
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return tl::unexpected(sqliteError(db_, rc, "prepare"));
  cache_.emplace(std::string(sql), stmt);
  return Statement(stmt);
}

core::Status Connection::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return tl::unexpected(sqliteError(db_, rc, "exec"));
  return {};
}

core::Status Connection::refuseWrites() {
  if (query_only_) return {};
  // Closing the last connection checkpoints and removes the -wal file at the path: by then it
  // may be another process's (a command run meanwhile), holding commits of its own. Kept.
  int keep = 1;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_PERSIST_WAL, &keep) != SQLITE_OK)
    return makeError(Errc::Internal, "SQLITE_FCNTL_PERSIST_WAL refused");
  auto ok = exec("PRAGMA query_only = ON");
  query_only_ = ok.has_value();
  return ok;
}

core::Result<bool> Connection::checkpointAll() {
  int frames = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_FULL, &frames, &copied);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY)
    return tl::unexpected(sqliteError(db_, rc, "checkpoint"));
  return rc == SQLITE_OK && frames == copied;
}

std::int64_t Connection::lastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
int Connection::changes() const { return sqlite3_changes(db_); }

core::Result<std::unique_ptr<ConnectionPool>> ConnectionPool::open(
    const std::filesystem::path& path, std::size_t size) {
  auto pool = std::make_unique<ConnectionPool>();
  pool->path_ = path;
  pool->size_ = std::max<std::size_t>(size, 1);
  auto first = Connection::open(path);
  if (!first) return tl::unexpected(first.error());
  // SQLite's own name for it: through a linked database file, the link's target's.
  if (const char* wal = sqlite3_filename_wal(sqlite3_db_filename((*first)->raw(), "main")))
    pool->wal_path_ = wal;
  // A read, so that a database made just now has its -wal file before it is first looked at (a
  // second review: until the first tick a removal there went unseen).
  if (auto read = (*first)->exec("SELECT count(*) FROM sqlite_master"); !read)
    return tl::unexpected(read.error());
  pool->idle_.push_back(std::move(*first));
  pool->opened_ = 1;
  (void)pool->watchWal();  // the file as opened
  return pool;
}

std::optional<bool> ConnectionPool::walAsSeen() const {
  if (wal_path_.empty()) return true;
  struct stat now {};
  if (::stat(wal_path_.c_str(), &now) != 0) {
    if (errno == ENOENT) return !seen_.load(std::memory_order_acquire);
    return std::nullopt;  // cannot tell (EACCES, EIO, ...)
  }
  if (!seen_.load(std::memory_order_acquire)) return true;
  return now.st_dev == seen_dev_.load(std::memory_order_relaxed) &&
         now.st_ino == seen_ino_.load(std::memory_order_relaxed);
}

core::Status ConnectionPool::watchWal() {
  const std::lock_guard watch(watch_mutex_);
  if (!wal_broken_.empty()) return makeError(Errc::Unavailable, wal_broken_);
  const auto as_seen = walAsSeen();
  if (!as_seen) {
    const int why = errno;
    return makeError(Errc::Unavailable, "cannot stat " + wal_path_ + ": " + std::strerror(why));
  }
  if (*as_seen) {
    struct stat now {};
    if (!seen_.load() && !wal_path_.empty() && ::stat(wal_path_.c_str(), &now) == 0) {
      seen_dev_.store(now.st_dev, std::memory_order_relaxed);
      seen_ino_.store(now.st_ino, std::memory_order_relaxed);
      seen_.store(true, std::memory_order_release);
    }
    return {};
  }
  // A dependency-failure attack removed the -wal file (and -shm) of a running server: SQLite
  // went on writing into the removed file, /readyz said ready, and at the next crash a logout
  // and a password change it had answered 200 were undone. From here: no lease writes (each
  // connection is set query_only when lent, and no new one is opened); once every connection is
  // back (what was under way committed), all of them are held while what the removed file holds
  // is checkpointed into the database file through SQLite's open descriptor (a review: first
  // checkpointing, then refusing, lost the writes that committed between).
  refusing_.store(true);
  std::vector<std::unique_ptr<Connection>> all;
  {
    std::unique_lock lock(mutex_);
    // Draining: no lease takes a returned connection meanwhile (a second review: under load the
    // returns were taken again at once and the wait ran out).
    draining_ = true;
    (void)available_.wait_for(lock, std::chrono::seconds(30),
                              [this] { return idle_.size() == opened_; });
    all.swap(idle_);
  }
  for (auto& c : all) (void)c->refuseWrites();
  // Once: another handle on the same file would meet the same reader (a second review).
  std::string outcome = "its checkpoint could not run";
  if (!all.empty()) {
    auto done = all.front()->checkpointAll();
    outcome = !done   ? "its checkpoint failed: " + done.error().message
              : *done ? "what it held is in the database file"
                      : "its checkpoint was cut short (another process reading)";
  }
  {
    const std::lock_guard lock(mutex_);
    for (auto& c : all) idle_.push_back(std::move(c));
    draining_ = false;
  }
  available_.notify_all();
  wal_broken_ = wal_path_ +
                " was removed or replaced while the server had it open: writes are refused until "
                "a restart (" +
                outcome + ")";
  return makeError(Errc::Unavailable, wal_broken_);
}

ConnectionPool::Lease::Lease(ConnectionPool& p) : pool(p) {
  assert(!core::NoWaitScope::active() &&
         "storage must not be waited on here: see core::NoWaitScope");
  std::unique_lock lock(pool.mutex_);
  // Not once the -wal file is not the one opened (refusing, or not yet seen to be): a new
  // connection would make a new -wal at the path beside the shared index of the old (a review).
  if (pool.idle_.empty() && pool.opened_ < pool.size_ && !pool.refusing_.load() &&
      pool.walAsSeen().value_or(false)) {
    ++pool.opened_;  // claimed before opening, so concurrent leases never exceed size_
    lock.unlock();
    core::Result<std::unique_ptr<Connection>> fresh = core::makeError(Errc::Internal, "");
    try {
      fresh = Connection::open(pool.path_);
    } catch (...) {  // bad_alloc: the claim is given back below
    }
    lock.lock();
    if (fresh) {
      conn = std::move(*fresh);
      lock.unlock();
      queryOnlyIfRefusing();
      return;
    }
    // Out of file descriptors or memory for now: wait for a connection in use (one always is,
    // or was opened at start) instead of failing this request.
    --pool.opened_;
    if (pool.refusing_.load()) pool.available_.notify_all();  // watchWal counts opened_
  }
  pool.available_.wait(lock, [&] { return !pool.idle_.empty() && !pool.draining_; });
  conn = std::move(pool.idle_.back());
  pool.idle_.pop_back();
  lock.unlock();
  queryOnlyIfRefusing();
}

void ConnectionPool::Lease::queryOnlyIfRefusing() {
  // Each connection learns it when it is next lent (its own thread's, not the refuser's).
  if (pool.refusing_.load()) (void)conn->refuseWrites();
}

ConnectionPool::Lease::~Lease() {
  // Set before it is back, so no connection returns writable once refusing (a second review:
  // one out at the drain's end kept deleting the path's -wal at close).
  if (pool.refusing_.load()) (void)conn->refuseWrites();
  {
    const std::lock_guard lock(pool.mutex_);
    pool.idle_.push_back(std::move(conn));
  }
  // watchWal waits for every connection to be back: it must hear each return.
  if (pool.refusing_.load())
    pool.available_.notify_all();
  else
    pool.available_.notify_one();
}

}  // namespace gatehouse::store::sqlite
