#include "store/sqlite/sqlite_store.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <system_error>
#include <unistd.h>
#include <variant>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "store/backend_common.hpp"
#include "store/sqlite/sqlite_db.hpp"

namespace gatehouse::store::sqlite {
namespace {

using core::Errc;
using core::makeError;

std::int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Schema migrations, applied in order, each in its own transaction. Never edit a released one:
// add a new entry.
constexpr std::string_view kMigrations[] = {
    // 1: users, sessions (refresh-token families), revoked access tokens.
    R"sql(
CREATE TABLE users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  email         TEXT NOT NULL COLLATE NOCASE UNIQUE,
  username      TEXT NOT NULL COLLATE NOCASE UNIQUE,
  password_hash TEXT NOT NULL DEFAULT '',
  role          TEXT NOT NULL,
  is_active     INTEGER NOT NULL DEFAULT 1,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX users_role_active ON users(role, is_active);
CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  refresh_jti  TEXT NOT NULL,
  user_agent   TEXT NOT NULL DEFAULT '',
  ip           TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  revoked      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE revoked_tokens (
  jti        TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens(expires_at);
)sql",
    // 2: token watermarks, a change log for caches, grace-window rotation, the audit chain.
    R"sql(
ALTER TABLE users ADD COLUMN tokens_valid_after INTEGER NOT NULL DEFAULT 0;
CREATE TABLE user_changes (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL,
  at      INTEGER NOT NULL
);
CREATE TRIGGER users_changed AFTER UPDATE ON users BEGIN
  INSERT INTO user_changes (user_id, at) VALUES (NEW.id, CAST(strftime('%s','now') AS INTEGER));
END;
CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN
  INSERT INTO user_changes (user_id, at) VALUES (OLD.id, CAST(strftime('%s','now') AS INTEGER));
END;
ALTER TABLE sessions ADD COLUMN previous_jti TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN rotated_at INTEGER NOT NULL DEFAULT 0;
CREATE TABLE audit_events (
  id          INTEGER PRIMARY KEY,
  time_ms     INTEGER NOT NULL,
  type        TEXT NOT NULL,
  request_id  TEXT NOT NULL DEFAULT '',
  actor_id    INTEGER,
  subject_id  INTEGER,
  client_ip   TEXT NOT NULL DEFAULT '',
  user_agent  TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT '{}',
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
);
CREATE INDEX audit_type_time ON audit_events(type, time_ms);
CREATE INDEX audit_actor ON audit_events(actor_id);
CREATE INDEX audit_subject ON audit_events(subject_id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_events BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
)sql",
    // 3: API keys (hash only) and their change log.
    R"sql(
CREATE TABLE api_keys (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  public_id    TEXT NOT NULL UNIQUE,
  secret_hash  TEXT NOT NULL,
  scopes       TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,
  last_used_at INTEGER,
  revoked      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_user ON api_keys(user_id);
CREATE TABLE api_key_changes (
  seq    INTEGER PRIMARY KEY AUTOINCREMENT,
  key_id INTEGER NOT NULL
);
CREATE TRIGGER api_keys_revoked AFTER UPDATE OF revoked ON api_keys BEGIN
  INSERT INTO api_key_changes (key_id) VALUES (NEW.id);
END;
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys BEGIN
  INSERT INTO api_key_changes (key_id) VALUES (OLD.id);
END;
)sql",
    // 4: external sign-in identities.
    R"sql(
CREATE TABLE identities (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider   TEXT NOT NULL,
  issuer     TEXT NOT NULL,
  subject    TEXT NOT NULL,
  email      TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (issuer, subject)
);
CREATE INDEX identities_user ON identities(user_id);
)sql",
    // 5: whether a user's email is proven (external sign-in links only to such accounts).
    R"sql(
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
)sql",
    // 6: second factors (sealed secrets, the last accepted TOTP step) and recovery codes.
    R"sql(
ALTER TABLE users ADD COLUMN mfa_enabled INTEGER NOT NULL DEFAULT 0;
CREATE TABLE mfa_factors (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  type         TEXT NOT NULL,
  name         TEXT NOT NULL DEFAULT '',
  secret       TEXT NOT NULL,
  confirmed    INTEGER NOT NULL DEFAULT 0,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL DEFAULT 0,
  last_step    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mfa_factors_user ON mfa_factors(user_id);
CREATE TABLE recovery_codes (
  user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used_at   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, code_hash)
);
)sql",
    // 7: email tokens (keyed digests only) and the mail outbox.
    R"sql(
CREATE TABLE email_tokens (
  hash       TEXT PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  purpose    TEXT NOT NULL,
  email      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens(user_id, purpose);
CREATE INDEX email_tokens_expiry ON email_tokens(expires_at);
CREATE TABLE mail_outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  kind            TEXT NOT NULL,
  sender          TEXT NOT NULL,
  recipient       TEXT NOT NULL,
  user_id         INTEGER,
  body            TEXT NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending',
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  claimed_until   INTEGER NOT NULL DEFAULT 0,
  claimed_by      TEXT NOT NULL DEFAULT '',
  expires_at      INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  finished_at     INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_outbox_due ON mail_outbox(state, next_attempt_at);
)sql",
    // 8: Gatehouse as an OpenID Provider: clients (lists as JSON arrays), consents, authorization
    // codes (keyed digests only; used_at NULL while unspent) and the one sealed signing key.
    R"sql(
CREATE TABLE op_clients (
  client_id                 TEXT PRIMARY KEY,
  name                      TEXT NOT NULL DEFAULT '',
  secret_hash               TEXT NOT NULL DEFAULT '',
  redirect_uris             TEXT NOT NULL DEFAULT '[]',
  post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
  grant_types               TEXT NOT NULL DEFAULT '[]',
  scope                     TEXT NOT NULL DEFAULT '',
  is_public                 INTEGER NOT NULL DEFAULT 0,
  first_party               INTEGER NOT NULL DEFAULT 0,
  created_at                INTEGER NOT NULL,
  secret_rotated_at         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE op_consents (
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id  TEXT NOT NULL REFERENCES op_clients(client_id) ON DELETE CASCADE,
  scope      TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, client_id)
);
CREATE INDEX op_consents_client ON op_consents(client_id);
CREATE TABLE op_codes (
  hash       TEXT PRIMARY KEY,
  client_id  TEXT NOT NULL REFERENCES op_clients(client_id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  data       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER,
  session_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX op_codes_expiry ON op_codes(expires_at);
CREATE INDEX op_codes_client ON op_codes(client_id);
CREATE INDEX op_codes_user ON op_codes(user_id);
CREATE TABLE op_keys (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  sealed     TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
)sql",
    // 9: passkeys are second factors too: their credential id (unique across users) and record.
    R"sql(
ALTER TABLE mfa_factors ADD COLUMN credential_id TEXT;
ALTER TABLE mfa_factors ADD COLUMN passkey TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX mfa_factors_credential ON mfa_factors(credential_id);
)sql",
    // 10: users moved in from elsewhere keep their old id for that system's tokens.
    R"sql(
CREATE TABLE legacy_subjects (
  source  TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (source, subject)
);
)sql",
    // 11: generated keys live in the database, sealed under the key-encryption key, so every
    // node signs and verifies with the same ones and follows a rotation without a restart.
    R"sql(
CREATE TABLE key_ring (
  purpose    TEXT NOT NULL,
  alg        TEXT NOT NULL,
  generation INTEGER NOT NULL,
  kid        TEXT NOT NULL,
  sealed     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  signs_from INTEGER NOT NULL,
  PRIMARY KEY (purpose, alg, generation)
);
)sql",
    // 12: ended sessions and dead API keys are purged (a day after they could last matter),
    // found by these.
    R"sql(
CREATE INDEX sessions_expiry ON sessions(expires_at);
CREATE INDEX sessions_ended ON sessions(last_used_at) WHERE revoked = 1;
CREATE INDEX api_keys_expiry ON api_keys(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX api_keys_revoked ON api_keys(id) WHERE revoked = 1;
)sql",
    // 13: the change logs are purged a day on too; a read from before a purge is told that it
    // missed changes (by the horizon), and API key changes carry their time as user changes do
    // (those already recorded count from this migration).
    R"sql(
CREATE TABLE change_log_horizons (
  log            TEXT PRIMARY KEY,
  purged_through INTEGER NOT NULL
);
ALTER TABLE api_key_changes ADD COLUMN at INTEGER NOT NULL DEFAULT 0;
UPDATE api_key_changes SET at = CAST(strftime('%s','now') AS INTEGER);
DROP TRIGGER api_keys_revoked;
DROP TRIGGER api_keys_deleted;
CREATE TRIGGER api_keys_revoked AFTER UPDATE OF revoked ON api_keys BEGIN
  INSERT INTO api_key_changes (key_id, at) VALUES (NEW.id, CAST(strftime('%s','now') AS INTEGER));
END;
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys BEGIN
  INSERT INTO api_key_changes (key_id, at) VALUES (OLD.id, CAST(strftime('%s','now') AS INTEGER));
END;
)sql",
    // 14: an email-change token names the session that asked for it, and works only while that
    // session lives.
    R"sql(
ALTER TABLE email_tokens ADD COLUMN session_id TEXT;
)sql",
    // 15: each audit record's hash is also keyed (HMAC-SHA256 under a key derived from the master
    // secret), so that whoever can write the table cannot rewrite its history and chain it again.
    R"sql(
ALTER TABLE audit_events ADD COLUMN mac TEXT NOT NULL DEFAULT '';
)sql",
    // 16: PostgreSQL's names compare as NOCASE does here (ASCII letters folded, nothing else);
    // nothing to change in SQLite, the version is kept in step.
    R"sql(
SELECT 1;
)sql",
    // 17: the identities a user unlinked, which never link themselves to that account again by
    // their email.
    R"sql(
CREATE TABLE unlinked_identities (
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  issuer      TEXT NOT NULL,
  subject     TEXT NOT NULL,
  unlinked_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, issuer, subject)
);
)sql",
    // 18: a user's second-factor codes tried in a row, which lock them at MFA_LOCKOUT_THRESHOLD
    // (MfaStore::countCodeAttempt).
    R"sql(
CREATE TABLE mfa_code_attempts (
  user_id  INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  attempts INTEGER NOT NULL
);
)sql",  // 19: the audit log read newest first within a type, and from a time: indexes the queries'
    // plans use (each filter read the whole table before: an outside attack).
    R"sql(
CREATE INDEX audit_type_id ON audit_events (type, id);
CREATE INDEX audit_time ON audit_events (time_ms);
)sql",
    // 20: the address each identity's provider verified (a reset setting a first password keeps
    // only the identities that proved the account's address: an outside attack). Unknown for the
    // identities already linked: "" until their next sign-in.
    R"sql(
ALTER TABLE identities ADD COLUMN verified_email TEXT NOT NULL DEFAULT '';
)sql",
    // 21: whether the user's address was set by a change since the last reset by mail
    // (User::address_moved); unknown for the changes made before: not set.
    R"sql(
ALTER TABLE users ADD COLUMN address_moved INTEGER NOT NULL DEFAULT 0;
)sql",
    // 22: the identities a reset (or a password someone else set) removed from an account, which
    // make no account of their own at their next sign-in (IdentityStore::removedFrom).
    R"sql(
CREATE TABLE removed_identities (
  issuer     TEXT NOT NULL,
  subject    TEXT NOT NULL,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  removed_at INTEGER NOT NULL,
  PRIMARY KEY (issuer, subject)
);
CREATE INDEX removed_identities_user ON removed_identities (user_id);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

// Every remaining row of `stmt`, each read by `read`.
template <class T, class Read>
core::Result<std::vector<T>> allRows(Statement& stmt, Read read) {
  std::vector<T> out;
  for (;;) {
    auto row = stmt.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return out;
    out.push_back(read(stmt));
  }
}

// A change log (`seq`, `id_column`): the ids changed after `seq` and the newest seq read; with
// seq < 0 (a first call) only the newest seq, however long the log (read from its start, a node
// would hear of a change made now only after the 10,000-row pages of every earlier one). The
// horizon is read after the rows: a purge that took rows this read should have seen committed
// before it, so the horizon read then is past `seq` and the read says it missed them.
core::Result<ChangeLogRead> changeLog(Connection& c, std::string_view table,
                                      std::string_view id_column, std::int64_t seq) {
  ChangeLogRead out{{}, seq, false, false};
  if (seq >= 0) {
    auto stmt = c.prepare("SELECT seq, " + std::string(id_column) + " FROM " + std::string(table) +
                          " WHERE seq > ? ORDER BY seq LIMIT " + std::to_string(kChangeLogPage));
    if (!stmt) return tl::unexpected(stmt.error());
    stmt->bind(1, seq);
    for (;;) {
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      out.seq = stmt->int64(0);
      out.ids.push_back(stmt->int64(1));
    }
    out.more = out.ids.size() == kChangeLogPage;
  } else {
    auto max = c.prepare("SELECT COALESCE(MAX(seq), 0) FROM " + std::string(table));
    if (!max) return tl::unexpected(max.error());
    if (auto row = max->step(); !row) return tl::unexpected(row.error());
    out.seq = max->int64(0);
  }
  auto horizon = c.prepare("SELECT purged_through FROM change_log_horizons WHERE log = ?");
  if (!horizon) return tl::unexpected(horizon.error());
  horizon->bind(1, table);
  auto row = horizon->step();
  if (!row) return tl::unexpected(row.error());
  if (*row && horizon->int64(0) > seq) {
    out.missed = seq >= 0;  // a first read has nothing to miss
    out.seq = std::max(out.seq, horizon->int64(0));
  }
  return out;
}

// Deletes the oldest rows of change log `table`, at most `limit`, of those up to the newest row
// recorded before `before`, and moves the log's horizon past them; how many. Rows stamped in the
// future (a clock that jumped) go with older ones after them and cannot stop the purge; one
// stamped in the past takes newer ones before it a day early, and a node that had not read
// those is told it missed them. The rows are found before the write lock is taken, and nothing
// is written when there are none.
core::Result<std::int64_t> purgeLog(ConnectionPool& pool, std::string_view table,
                                    std::int64_t before, std::int64_t limit) {
  auto cut = pool.with([&](Connection& c) -> core::Result<std::int64_t> {
    const std::string t(table);
    auto stmt = c.prepare("SELECT COALESCE(MAX(seq), -1) FROM (SELECT seq FROM " + t +
                          " WHERE seq <= (SELECT MAX(seq) FROM " + t +
                          " WHERE at < ?1) ORDER BY seq LIMIT ?2)");
    if (!stmt) return tl::unexpected(stmt.error());
    stmt->bind(1, before).bind(2, limit);
    if (auto row = stmt->step(); !row) return tl::unexpected(row.error());
    return stmt->int64(0);
  });
  if (!cut) return tl::unexpected(cut.error());
  if (*cut < 0) return std::int64_t{0};
  return pool.transaction<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
    auto del = c.prepare("DELETE FROM " + std::string(table) + " WHERE seq <= ?");
    if (!del) return tl::unexpected(del.error());
    del->bind(1, *cut);
    if (auto ok = del->run(); !ok) return tl::unexpected(ok.error());
    const std::int64_t gone = c.changes();
    auto mark = c.prepare(
        "INSERT INTO change_log_horizons (log, purged_through) VALUES (?1, ?2) ON CONFLICT (log) "
        "DO UPDATE SET purged_through = MAX(purged_through, excluded.purged_through)");
    if (!mark) return tl::unexpected(mark.error());
    mark->bind(1, table).bind(2, *cut);
    if (auto ok = mark->run(); !ok) return tl::unexpected(ok.error());
    return gone;
  });
}

// Binds `args` to the statement's parameters 1..n in order.
template <class... Args>
void bindAll(Statement& stmt, const Args&... args) {
  int index = 0;
  (stmt.bind(++index, args), ...);
}

// One statement on a pooled connection; NotFound(`must_change`) when it is set and no row changed.
template <class... Args>
core::Status run(ConnectionPool& pool, std::string_view sql, const char* must_change,
                 const Args&... args) {
  return pool.with([&](Connection& c) -> core::Status {
    auto stmt = c.prepare(sql);
    if (!stmt) return tl::unexpected(stmt.error());
    bindAll(*stmt, args...);
    if (auto ok = stmt->run(); !ok) return ok;
    if (must_change != nullptr && c.changes() == 0) return makeError(Errc::NotFound, must_change);
    return {};
  });
}

// Inside a write transaction (BEGIN IMMEDIATE holds the count until the insert that follows):
// ResourceExhausted(`what`) when the count `sql` reads is `cap` or more. The caps on a user's
// factors and API keys and on the provider's clients.
template <class... Args>
core::Status belowCap(Connection& c, std::string_view sql, std::uint64_t cap, const char* what,
                      const Args&... args) {
  auto count = c.prepare(sql);
  if (!count) return tl::unexpected(count.error());
  bindAll(*count, args...);
  if (auto row = count->step(); !row) return tl::unexpected(row.error());
  if (static_cast<std::uint64_t>(count->int64(0)) >= cap)
    return makeError(Errc::ResourceExhausted, what);
  return {};
}

// Deletes at most `limit` rows of `table` where `dead` holds (`?1` is `before`): how many. Only
// when there is one: a DELETE that finds nothing still writes here (a trigger's AUTOINCREMENT
// bookkeeping), and the janitor purges idle databases too.
core::Result<std::int64_t> purgeRows(ConnectionPool& pool, std::string_view table,
                                     std::string_view dead, std::int64_t before,
                                     std::int64_t limit) {
  return pool.with([&](Connection& c) -> core::Result<std::int64_t> {
    const std::string from = std::string(table) + " WHERE " + std::string(dead);
    {
      auto any = c.prepare("SELECT EXISTS (SELECT 1 FROM " + from + ")");
      if (!any) return tl::unexpected(any.error());
      any->bind(1, before);
      if (auto row = any->step(); !row) return tl::unexpected(row.error());
      if (any->int64(0) == 0) return std::int64_t{0};
    }  // finished before the write
    auto stmt = c.prepare("DELETE FROM " + std::string(table) +
                          " WHERE rowid IN (SELECT rowid FROM " + from + " LIMIT ?2)");
    if (!stmt) return tl::unexpected(stmt.error());
    stmt->bind(1, before).bind(2, limit);
    if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
    return std::int64_t{c.changes()};
  });
}

constexpr std::string_view kUserColumns =
    "id, email, username, password_hash, role, is_active, created_at, tokens_valid_after, "
    "email_verified, mfa_enabled, address_moved";
const std::string kUserSelect = "SELECT " + std::string(kUserColumns) + " FROM users ";

User readUser(const Statement& s) {
  return User{s.int64(0),      s.text(1),       s.text(2),       s.text(3),
              s.text(4),       s.int64(5) != 0, s.int64(6),      s.int64(7),
              s.int64(8) != 0, s.int64(9) != 0, s.int64(10) != 0};
}

core::Result<std::optional<User>> oneUser(Connection& c, std::string_view sql, auto bind) {
  auto stmt = c.prepare(sql);
  if (!stmt) return tl::unexpected(stmt.error());
  bind(*stmt);
  auto row = stmt->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::optional<User>{};
  return std::optional<User>(readUser(*stmt));
}

core::Result<User> insertUser(Connection& c, const NewUser& u) {
  const std::int64_t now = nowSeconds();
  auto stmt = c.prepare(
      "INSERT INTO users (email, username, password_hash, role, is_active, created_at, "
      "updated_at, email_verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt) return tl::unexpected(stmt.error());
  bindAll(*stmt, u.email, u.username, u.password_hash, u.role, std::int64_t{u.is_active ? 1 : 0},
          now, now, std::int64_t{u.email_verified ? 1 : 0});
  if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
  return User{c.lastInsertRowid(), u.email, u.username, u.password_hash, u.role,
              u.is_active,         now,     0,          u.email_verified};
}

// Inside a write transaction: NotFound when the user is gone, Aborted when their role is no
// longer `role` (the role an actor's rights were judged against: UserPatch::role_is).
core::Status requireRole(Connection& c, std::int64_t id, std::string_view role) {
  auto stmt = c.prepare("SELECT role FROM users WHERE id = ?");
  if (!stmt) return tl::unexpected(stmt.error());
  stmt->bind(1, id);
  auto row = stmt->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return makeError(Errc::NotFound, "user");
  if (stmt->text(0) != role)
    return makeError(Errc::Aborted, "the user's role changed since it was read");
  return {};
}

// Inside a transaction: every emailed token of the user dropped. The account rule below (a pending
// email change a thief asked for must not survive the owner taking the account back), and that of
// an address change (other than its letter case): the reset and verification links sent to the
// old address never work again, even once it changes back, and a pending change asked for before
// must not undo an administrator's new address (found by an outside attack, reading the code).
core::Status dropEmailedTokens(Connection& c, std::int64_t id) {
  auto stmt = c.prepare("DELETE FROM email_tokens WHERE user_id = ?");
  if (!stmt) return tl::unexpected(stmt.error());
  bindAll(*stmt, id);
  return stmt->run();
}

// Inside a write transaction: whether `session_id` is `user_id`'s and not revoked, and, with
// `unexpired_at`, not expired then. BEGIN IMMEDIATE orders it against a reset or a sign-out that
// ends the session.
core::Result<bool> sessionLive(Connection& c, std::string_view session_id, std::int64_t user_id,
                               std::optional<std::int64_t> unexpired_at) {
  const std::int64_t now = unexpired_at.value_or(std::numeric_limits<std::int64_t>::min());
  auto live = c.prepare(
      "SELECT COUNT(*) FROM sessions WHERE id = ? AND user_id = ? AND revoked = 0 AND "
      "expires_at > ?");
  if (!live) return tl::unexpected(live.error());
  bindAll(*live, session_id, user_id, now);
  if (auto row = live->step(); !row) return tl::unexpected(row.error());
  return live->int64(0) > 0;
}

// Inside a transaction: earlier tokens voided, every session revoked, every emailed token
// dropped and, with `keys`, every API key; the account rule of a password change or reset and a
// deactivation.
// See TokenEffect::ResetPassword (defined with the MFA store).
core::Result<std::int64_t> dropOtherWaysIn(
    Connection& c, std::int64_t user_id,
    std::optional<std::string_view> keep_proving = std::nullopt);

core::Status endEverything(Connection& c, std::int64_t id, std::int64_t now, bool keys) {
  std::vector<std::string_view> statements = {
      // Never back (setTokensValidAfter): a node whose clock runs behind revives nothing.
      "UPDATE users SET tokens_valid_after = MAX(tokens_valid_after, ?), updated_at = ? WHERE id = "
      "?",
      "UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0"};
  if (keys)
    statements.push_back("UPDATE api_keys SET revoked = 1 WHERE user_id = ? AND revoked = 0");
  for (std::size_t i = 0; i < statements.size(); ++i) {
    auto stmt = c.prepare(statements[i]);
    if (!stmt) return tl::unexpected(stmt.error());
    if (i == 0) {
      bindAll(*stmt, now, now, id);
    } else {
      bindAll(*stmt, id);
    }
    if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
  }
  return dropEmailedTokens(c, id);
}

class SqliteUsers final : public UserStore {
 public:
  explicit SqliteUsers(ConnectionPool& pool) : pool_(pool) {}

  core::Result<User> create(const NewUser& u) override {
    return pool_.with([&](Connection& c) { return insertUser(c, u); });
  }

  core::Result<std::optional<User>> findById(std::int64_t id) override {
    return pool_.with([&](Connection& c) {
      return oneUser(c, kUserSelect + "WHERE id = ?", [&](Statement& s) { s.bind(1, id); });
    });
  }

  core::Result<std::optional<User>> findByEmail(std::string_view email) override {
    return pool_.with([&](Connection& c) {
      return oneUser(c, kUserSelect + "WHERE email = ?", [&](Statement& s) { s.bind(1, email); });
    });
  }

  core::Result<std::optional<User>> findByUsername(std::string_view username) override {
    return pool_.with([&](Connection& c) {
      return oneUser(c, kUserSelect + "WHERE username = ?",
                     [&](Statement& s) { s.bind(1, username); });
    });
  }

  core::Result<std::vector<User>> list(std::int64_t limit, std::int64_t offset) override {
    return pool_.with([&](Connection& c) -> core::Result<std::vector<User>> {
      auto stmt = c.prepare(kUserSelect + "ORDER BY id LIMIT ? OFFSET ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, limit).bind(2, offset);
      return allRows<User>(*stmt, readUser);
    });
  }

  core::Result<std::vector<User>> search(std::string_view text, std::int64_t limit,
                                         std::int64_t offset) override {
    return pool_.with([&](Connection& c) -> core::Result<std::vector<User>> {
      auto stmt = c.prepare(
          kUserSelect +
          "WHERE lower(email) LIKE lower(?1) ESCAPE '\\' OR lower(username) LIKE lower(?1) "
          "ESCAPE '\\' ORDER BY id LIMIT ?2 OFFSET ?3");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, likePattern(text)).bind(2, limit).bind(3, offset);
      return allRows<User>(*stmt, readUser);
    });
  }

  core::Result<std::int64_t> count() override {
    return pool_.with([&](Connection& c) -> core::Result<std::int64_t> {
      auto stmt = c.prepare("SELECT COUNT(*) FROM users");
      if (!stmt) return tl::unexpected(stmt.error());
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      return stmt->int64(0);
    });
  }

  core::Result<UserChange> update(std::int64_t id, const UserPatch& patch,
                                  std::string_view protected_role) override {
    return pool_.transaction<UserChange>([&](Connection& c) -> core::Result<UserChange> {
      auto current = oneUser(c, kUserSelect + "WHERE id = ?", [&](Statement& s) { s.bind(1, id); });
      if (!current) return tl::unexpected(current.error());
      if (!*current) return makeError(Errc::NotFound, "user");
      if (patch.role_is && (*current)->role != *patch.role_is)
        return makeError(Errc::Aborted, "the user's role changed since it was read");
      User u = **current;
      if (applyUserPatch(u, patch, protected_role)) {
        if (auto ok = ensureAnotherActive(c, protected_role, id); !ok)
          return tl::unexpected(ok.error());
      }
      auto stmt = c.prepare(
          "UPDATE users SET email = ?, username = ?, is_active = ?, role = ?, updated_at = ?, "
          "email_verified = ? WHERE id = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, u.email).bind(2, u.username).bind(3, std::int64_t{u.is_active ? 1 : 0});
      stmt->bind(4, u.role).bind(5, nowSeconds()).bind(6, std::int64_t{u.email_verified ? 1 : 0});
      stmt->bind(7, id);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      if (!sameAddress((*current)->email, u.email)) {
        if (auto ok = dropEmailedTokens(c, id); !ok) return tl::unexpected(ok.error());
        auto moved = c.prepare("UPDATE users SET address_moved = 1 WHERE id = ?");
        if (!moved) return tl::unexpected(moved.error());
        moved->bind(1, id);
        if (auto ok = moved->run(); !ok) return tl::unexpected(ok.error());
        u.address_moved = true;
      }
      if ((*current)->is_active && !u.is_active && patch.deactivated_at) {
        u.tokens_valid_after = *patch.deactivated_at;
        if (auto ok = endEverything(c, id, *patch.deactivated_at, true); !ok)
          return tl::unexpected(ok.error());
      }
      return UserChange{std::move(**current), std::move(u)};
    });
  }

  core::Status remove(std::int64_t id, std::string_view protected_role,
                      std::optional<std::string_view> role_is) override {
    auto done = pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      auto current = oneUser(c, kUserSelect + "WHERE id = ?", [&](Statement& s) { s.bind(1, id); });
      if (!current) return tl::unexpected(current.error());
      if (!*current) return makeError(Errc::NotFound, "user");
      if (role_is && (*current)->role != *role_is)
        return makeError(Errc::Aborted, "the user's role changed since it was read");
      if ((*current)->is_active && (*current)->role == protected_role) {
        if (auto ok = ensureAnotherActive(c, protected_role, id); !ok)
          return tl::unexpected(ok.error());
      }
      auto stmt = c.prepare("DELETE FROM users WHERE id = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, id);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return {};
  }

  core::Status changePassword(std::int64_t id, std::string_view hash, std::int64_t now,
                              PasswordEnds ends) override {
    auto done = pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      if (ends.role_is) {
        if (auto ok = requireRole(c, id, *ends.role_is); !ok) return tl::unexpected(ok.error());
      }
      auto stmt = c.prepare("UPDATE users SET password_hash = ? WHERE id = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, hash, id);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      if (c.changes() == 0) return makeError(Errc::NotFound, "user");
      if (auto ok = endEverything(c, id, now, ends.api_keys); !ok)
        return tl::unexpected(ok.error());
      if (ends.other_ways_in) {
        if (auto ok = dropOtherWaysIn(c, id); !ok) return tl::unexpected(ok.error());
      }
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return {};
  }

  core::Status setTokensValidAfter(std::int64_t id, std::int64_t when,
                                   std::optional<std::string_view> role_is) override {
    if (!role_is)
      return run(pool_,
                 "UPDATE users SET tokens_valid_after = MAX(tokens_valid_after, ?) WHERE id = ?",
                 nullptr, when, id);
    auto moved =
        run(pool_,
            "UPDATE users SET tokens_valid_after = MAX(tokens_valid_after, ?) WHERE id = ? "
            "AND role = ?",
            "the user as judged", when, id, *role_is);
    if (!moved && moved.error().code == Errc::NotFound)
      return makeError(Errc::Aborted, "the user's role changed since it was read, or it went");
    return moved;
  }

  core::Result<std::vector<ImportOutcome>> importUsers(const std::vector<ImportedUser>& users,
                                                       std::string_view source) override {
    return pool_.transaction<std::vector<ImportOutcome>>(
        [&](Connection& c) -> core::Result<std::vector<ImportOutcome>> {
          std::vector<ImportOutcome> out;
          for (const ImportedUser& item : users) {
            const NewUser& u = item.user;
            ImportOutcome outcome;
            auto by_email = oneUser(c, kUserSelect + "WHERE email = ?",
                                    [&](Statement& s) { s.bind(1, u.email); });
            if (!by_email) return tl::unexpected(by_email.error());
            if (*by_email) {
              outcome = {ImportOutcome::Kind::Skipped, (*by_email)->id};
            } else {
              auto by_name = oneUser(c, kUserSelect + "WHERE username = ?",
                                     [&](Statement& s) { s.bind(1, u.username); });
              if (!by_name) return tl::unexpected(by_name.error());
              if (*by_name) {
                outcome = {ImportOutcome::Kind::UsernameTaken, (*by_name)->id};
              } else {
                auto created = insertUser(c, u);
                if (!created) return tl::unexpected(created.error());
                auto when = c.prepare("UPDATE users SET created_at = ? WHERE id = ?");
                if (!when) return tl::unexpected(when.error());
                bindAll(*when, item.created_at, created->id);
                if (auto ok = when->run(); !ok) return tl::unexpected(ok.error());
                outcome = {ImportOutcome::Kind::Created, created->id};
              }
            }
            if (!item.legacy_subject.empty()) {
              auto mapped =
                  c.prepare("SELECT user_id FROM legacy_subjects WHERE source = ? AND subject = ?");
              if (!mapped) return tl::unexpected(mapped.error());
              bindAll(*mapped, source, item.legacy_subject);
              auto row = mapped->step();
              if (!row) return tl::unexpected(row.error());
              const auto holder = *row ? std::optional(mapped->int64(0)) : std::nullopt;
              const SubjectChange change = legacySubjectChange(holder, outcome);
              if (change == SubjectChange::Forget) {
                auto drop =
                    c.prepare("DELETE FROM legacy_subjects WHERE source = ? AND subject = ?");
                if (!drop) return tl::unexpected(drop.error());
                bindAll(*drop, source, item.legacy_subject);
                if (auto ok = drop->run(); !ok) return tl::unexpected(ok.error());
              } else if (change == SubjectChange::Remember) {
                auto add = c.prepare(
                    "INSERT INTO legacy_subjects (source, subject, user_id) VALUES (?, ?, ?)");
                if (!add) return tl::unexpected(add.error());
                bindAll(*add, source, item.legacy_subject, outcome.user_id);
                if (auto ok = add->run(); !ok) return tl::unexpected(ok.error());
              }
            }
            out.push_back(outcome);
          }
          return out;
        });
  }

  core::Result<std::optional<std::int64_t>> findByLegacySubject(std::string_view source,
                                                                std::string_view subject) override {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<std::int64_t>> {
      auto stmt = c.prepare("SELECT user_id FROM legacy_subjects WHERE source = ? AND subject = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, source, subject);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::optional<std::int64_t>{};
      return std::optional<std::int64_t>(stmt->int64(0));
    });
  }

  core::Result<ChangeLogRead> changesSince(std::int64_t seq) override {
    return pool_.with([&](Connection& c) { return changeLog(c, "user_changes", "user_id", seq); });
  }

  core::Result<std::int64_t> purgeChanges(std::int64_t before, std::int64_t limit) override {
    return purgeLog(pool_, "user_changes", before, limit);
  }

  core::Status replacePasswordHash(std::int64_t id, std::string_view expected,
                                   std::string_view hash) override {
    return run(
        pool_,
        "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?",
        "user or hash", hash, nowSeconds(), id, expected);
  }

 private:
  static core::Status ensureAnotherActive(Connection& c, std::string_view role,
                                          std::int64_t except) {
    auto stmt =
        c.prepare("SELECT COUNT(*) FROM users WHERE role = ? AND is_active = 1 AND id <> ?");
    if (!stmt) return tl::unexpected(stmt.error());
    stmt->bind(1, role).bind(2, except);
    auto row = stmt->step();
    if (!row) return tl::unexpected(row.error());
    if (stmt->int64(0) == 0)
      return makeError(Errc::FailedPrecondition, "last active " + std::string(role));
    return {};
  }

  ConnectionPool& pool_;
};

Session readSession(const Statement& s) {
  return Session{s.text(0),  s.int64(1), s.text(2),       s.text(3), s.text(4),  s.int64(5),
                 s.int64(6), s.int64(7), s.int64(8) != 0, s.text(9), s.int64(10)};
}

constexpr std::string_view kSessionSelect =
    "SELECT id, user_id, refresh_jti, user_agent, ip, created_at, last_used_at, expires_at, "
    "revoked, previous_jti, rotated_at FROM sessions ";

// A revocation-list entry written in the caller's transaction (a session's on refresh-token
// reuse, a deleted client's), kept until the later of its ends.
core::Status holdRevoked(Connection& c, std::string_view key, std::int64_t until) {
  auto held = c.prepare(
      "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) "
      "DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)");
  if (!held) return tl::unexpected(held.error());
  held->bind(1, key).bind(2, until);
  if (auto ok = held->run(); !ok) return tl::unexpected(ok.error());
  return {};
}

class SqliteSessions final : public SessionStore {
 public:
  explicit SqliteSessions(ConnectionPool& pool) : pool_(pool) {}

  core::Status create(const Session& s) override {
    return run(pool_,
               "INSERT INTO sessions (id, user_id, refresh_jti, user_agent, ip, created_at, "
               "last_used_at, expires_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
               nullptr, s.id, s.user_id, s.refresh_jti, s.user_agent, s.ip, s.created_at,
               s.last_used_at, s.expires_at);
  }

  core::Result<RotateOutcome> rotate(std::string_view id, std::string_view presented,
                                     std::string_view next, std::int64_t now,
                                     std::int64_t expires_at, std::int64_t grace,
                                     std::int64_t tokens_until) override {
    return pool_.transaction<RotateOutcome>([&](Connection& c) -> core::Result<RotateOutcome> {
      // Compare-and-set: only the current jti of a live session moves forward.
      auto cas = c.prepare(
          "UPDATE sessions SET previous_jti = refresh_jti, rotated_at = ?, refresh_jti = ?, "
          "last_used_at = ?, "
          "expires_at = ? WHERE id = ? AND refresh_jti = ? AND revoked = 0 AND expires_at > ?");
      if (!cas) return tl::unexpected(cas.error());
      cas->bind(1, now)
          .bind(2, next)
          .bind(3, now)
          .bind(4, expires_at)
          .bind(5, id)
          .bind(6, presented)
          .bind(7, now);
      if (auto ok = cas->run(); !ok) return tl::unexpected(ok.error());
      if (c.changes() == 1) return RotateOutcome::Rotated;
      if (grace > 0) {
        auto recent = c.prepare(
            "SELECT COUNT(*) FROM sessions WHERE id = ? AND previous_jti = ? AND revoked = 0 AND "
            "rotated_at >= ?");
        if (!recent) return tl::unexpected(recent.error());
        recent->bind(1, id).bind(2, presented).bind(3, now - grace);
        auto row = recent->step();
        if (!row) return tl::unexpected(row.error());
        if (recent->int64(0) > 0) return RotateOutcome::GraceRace;
      }
      // Not current: an older token of a live family is a replay (RFC 9700 §4.14.2).
      auto revoke = c.prepare(
          "UPDATE sessions SET revoked = 1 WHERE id = ? AND revoked = 0 AND expires_at > ?");
      if (!revoke) return tl::unexpected(revoke.error());
      revoke->bind(1, id).bind(2, now);
      if (auto ok = revoke->run(); !ok) return tl::unexpected(ok.error());
      if (c.changes() != 1) return RotateOutcome::Inactive;
      if (auto ok = holdRevoked(c, sessionRevocationKey(id), tokens_until); !ok)
        return tl::unexpected(ok.error());
      return RotateOutcome::Reused;
    });
  }

  core::Status touch(std::string_view id, std::int64_t now) override {
    return run(pool_, "UPDATE sessions SET last_used_at = ? WHERE id = ?", nullptr, now, id);
  }

  core::Result<std::optional<Session>> find(std::string_view id) override {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<Session>> {
      auto stmt = c.prepare(std::string(kSessionSelect) + "WHERE id = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, id);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::optional<Session>{};
      return std::optional<Session>(readSession(*stmt));
    });
  }

  core::Result<std::vector<Session>> listForUser(std::int64_t user_id, std::int64_t now) override {
    return pool_.with([&](Connection& c) -> core::Result<std::vector<Session>> {
      auto stmt = c.prepare(
          std::string(kSessionSelect) +
          "WHERE user_id = ? AND revoked = 0 AND expires_at > ? ORDER BY created_at DESC, id");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, user_id).bind(2, now);
      return allRows<Session>(*stmt, readSession);
    });
  }

  core::Status revoke(std::string_view id) override {
    return run(pool_, "UPDATE sessions SET revoked = 1 WHERE id = ?", nullptr, id);
  }

  core::Status forgetEnded(std::string_view id) override {
    return run(pool_, "DELETE FROM sessions WHERE id = ? AND revoked = 1", nullptr, id);
  }

  core::Status revokeAllForUser(std::int64_t user_id) override {
    return run(pool_, "UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0", nullptr,
               user_id);
  }

  core::Result<std::int64_t> purgeEnded(std::int64_t before, std::int64_t limit,
                                        bool keep_traded) override {
    return purgeRows(pool_, "sessions",
                     std::string(keep_traded ? "id NOT LIKE 'legacy-%' AND " : "") +
                         "(expires_at < ?1 OR (revoked = 1 AND last_used_at < ?1))",
                     before, limit);
  }

 private:
  ConnectionPool& pool_;
};

class SqliteRevocations final : public RevocationStore {
 public:
  explicit SqliteRevocations(ConnectionPool& pool) : pool_(pool) {}

  core::Status add(std::string_view jti, std::int64_t expires_at) override {
    return run(pool_, "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
               nullptr, jti, expires_at);
  }

  core::Result<std::vector<std::pair<std::string, std::int64_t>>> active(
      std::int64_t now) override {
    return pool_.with(
        [&](Connection& c) -> core::Result<std::vector<std::pair<std::string, std::int64_t>>> {
          auto stmt = c.prepare("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?");
          if (!stmt) return tl::unexpected(stmt.error());
          stmt->bind(1, now);
          std::vector<std::pair<std::string, std::int64_t>> out;
          for (;;) {
            auto row = stmt->step();
            if (!row) return tl::unexpected(row.error());
            if (!*row) return out;
            out.emplace_back(stmt->text(0), stmt->int64(1));
          }
        });
  }

  core::Status purgeExpired(std::int64_t now) override {
    // A session's entry leaves only with the session ended for good: one whose own end was never
    // written (a failure after its entry) is ended here, so it never lives on past its entry.
    return pool_
        .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          for (const char* sql : {"UPDATE sessions SET revoked = 1 WHERE revoked = 0 AND id IN "
                                  "(SELECT substr(jti, 5) "
                                  "FROM revoked_tokens WHERE jti LIKE 'sid:%' AND expires_at <= ?)",
                                  "DELETE FROM revoked_tokens WHERE expires_at <= ?"}) {
            auto stmt = c.prepare(sql);
            if (!stmt) return tl::unexpected(stmt.error());
            stmt->bind(1, now);
            if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
          }
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

 private:
  ConnectionPool& pool_;
};

constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

AuditRecord readAudit(const Statement& s) {
  AuditRecord r;
  r.id = s.int64(0);
  r.time_ms = s.int64(1);
  r.type = s.text(2);
  r.request_id = s.text(3);
  if (!s.isNull(4)) r.actor_id = s.int64(4);
  if (!s.isNull(5)) r.subject_id = s.int64(5);
  r.client_ip = s.text(6);
  r.user_agent = s.text(7);
  r.detail = s.text(8);
  r.prev_hash = s.text(9);
  r.hash = s.text(10);
  r.mac = s.text(11);
  return r;
}

constexpr std::string_view kAuditSelect =
    "SELECT id, time_ms, type, request_id, actor_id, subject_id, client_ip, user_agent, detail, "
    "prev_hash, hash, mac "
    "FROM audit_events ";

class SqliteAudit final : public AuditStore {
 public:
  explicit SqliteAudit(ConnectionPool& pool) : pool_(pool) {}

  core::Result<AuditRecord> append(AuditRecord r,
                                   const std::function<core::Status(AuditRecord&)>& seal) override {
    return pool_.transaction<AuditRecord>([&](Connection& c) -> core::Result<AuditRecord> {
      auto last = c.prepare("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1");
      if (!last) return tl::unexpected(last.error());
      auto row = last->step();
      if (!row) return tl::unexpected(row.error());
      r.id = *row ? last->int64(0) + 1 : 1;
      r.prev_hash = *row ? last->text(1) : std::string(kGenesisHash);
      if (auto sealed = seal(r); !sealed) return tl::unexpected(sealed.error());
      auto ins = c.prepare(
          "INSERT INTO audit_events (id, time_ms, type, request_id, actor_id, subject_id, "
          "client_ip, user_agent, "
          "detail, prev_hash, hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      if (!ins) return tl::unexpected(ins.error());
      ins->bind(1, r.id).bind(2, r.time_ms).bind(3, r.type).bind(4, r.request_id);
      if (r.actor_id)
        ins->bind(5, *r.actor_id);
      else
        ins->bindNull(5);
      if (r.subject_id)
        ins->bind(6, *r.subject_id);
      else
        ins->bindNull(6);
      ins->bind(7, r.client_ip)
          .bind(8, r.user_agent)
          .bind(9, r.detail)
          .bind(10, r.prev_hash)
          .bind(11, r.hash)
          .bind(12, r.mac);
      if (auto ok = ins->run(); !ok) return tl::unexpected(ok.error());
      return r;
    });
  }

  core::Result<std::vector<AuditRecord>> query(const AuditQuery& q) override {
    return pool_.with([&](Connection& c) -> core::Result<std::vector<AuditRecord>> {
      auto stmt = c.prepare(std::string(kAuditSelect) +
                            auditWhere(q, [](int n) { return "?" + std::to_string(n); }) +
                            " ORDER BY id DESC LIMIT ?5");
      if (!stmt) return tl::unexpected(stmt.error());
      if (q.type)
        stmt->bind(1, *q.type);
      else
        stmt->bindNull(1);
      if (q.user_id)
        stmt->bind(2, *q.user_id);
      else
        stmt->bindNull(2);
      if (q.since_ms)
        stmt->bind(3, *q.since_ms);
      else
        stmt->bindNull(3);
      if (q.before_id)
        stmt->bind(4, *q.before_id);
      else
        stmt->bindNull(4);
      stmt->bind(5, q.limit);
      return allRows<AuditRecord>(*stmt, readAudit);
    });
  }

  core::Status scan(const std::function<bool(const AuditRecord&)>& visit) override {
    return scanAuditPages(
        [this](std::int64_t after) {
          return pool_.with([after](Connection& c) -> core::Result<std::vector<AuditRecord>> {
            auto stmt =
                c.prepare(std::string(kAuditSelect) + "WHERE id > ? ORDER BY id LIMIT 1000");
            if (!stmt) return tl::unexpected(stmt.error());
            stmt->bind(1, after);
            return allRows<AuditRecord>(*stmt, readAudit);
          });
        },
        visit);
  }

  core::Result<std::int64_t> countSince(std::string_view type, std::int64_t since_ms) override {
    return scalar("SELECT COUNT(*) FROM audit_events WHERE type = ? AND time_ms >= ?", type,
                  since_ms);
  }

  core::Result<std::int64_t> distinctSubjectsSince(std::string_view type,
                                                   std::int64_t since_ms) override {
    return scalar(
        "SELECT COUNT(DISTINCT subject_id) FROM audit_events WHERE type = ? AND time_ms >= ?", type,
        since_ms);
  }

  core::Result<std::vector<DailyCount>> perDaySince(std::string_view type,
                                                    std::int64_t since_ms) override {
    return pool_.with([&](Connection& c) -> core::Result<std::vector<DailyCount>> {
      auto stmt = c.prepare(
          "SELECT date(time_ms / 1000, 'unixepoch') AS day, COUNT(*) FROM audit_events WHERE type "
          "= ? AND time_ms >= ? "
          "GROUP BY day ORDER BY day");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, type).bind(2, since_ms);
      std::vector<DailyCount> out;
      for (;;) {
        auto row = stmt->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return out;
        out.push_back({stmt->text(0), stmt->int64(1)});
      }
    });
  }

 private:
  core::Result<std::int64_t> scalar(std::string_view sql, std::string_view type,
                                    std::int64_t since_ms) {
    return pool_.with([&](Connection& c) -> core::Result<std::int64_t> {
      auto stmt = c.prepare(sql);
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, type).bind(2, since_ms);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      return stmt->int64(0);
    });
  }

  ConnectionPool& pool_;
};

constexpr std::string_view kApiKeySelect =
    "SELECT id, user_id, name, public_id, secret_hash, scopes, created_at, expires_at, "
    "last_used_at, revoked "
    "FROM api_keys ";

ApiKey readApiKey(const Statement& s) {
  ApiKey k;
  k.id = s.int64(0);
  k.user_id = s.int64(1);
  k.name = s.text(2);
  k.public_id = s.text(3);
  k.secret_hash = s.text(4);
  k.scopes = splitScopes(s.text(5));
  k.created_at = s.int64(6);
  if (!s.isNull(7)) k.expires_at = s.int64(7);
  if (!s.isNull(8)) k.last_used_at = s.int64(8);
  k.revoked = s.int64(9) != 0;
  return k;
}

class SqliteApiKeys final : public ApiKeyStore {
 public:
  explicit SqliteApiKeys(ConnectionPool& pool) : pool_(pool) {}

  core::Result<ApiKey> create(ApiKey k, std::size_t max_live,
                              std::optional<std::string_view> session_id) override {
    // BEGIN IMMEDIATE holds SQLite's write lock from the count to the insert.
    return pool_.transaction<ApiKey>([&](Connection& c) -> core::Result<ApiKey> {
      // A deactivation ends keys in its transaction: one made after it would outlive it.
      auto owner = c.prepare("SELECT is_active FROM users WHERE id = ?");
      if (!owner) return tl::unexpected(owner.error());
      owner->bind(1, k.user_id);
      auto row = owner->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return makeError(Errc::NotFound, "user");
      if (owner->int64(0) == 0) return makeError(Errc::FailedPrecondition, "owner inactive");
      if (session_id) {
        auto live = sessionLive(c, *session_id, k.user_id, std::nullopt);
        if (!live) return tl::unexpected(live.error());
        if (!*live) return makeError(Errc::Aborted, "the asking session ended");
      }
      if (auto ok =
              belowCap(c,
                       "SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND revoked = 0 AND "
                       "(expires_at IS NULL OR expires_at > ?)",
                       max_live, "the owner holds the most API keys", k.user_id, k.created_at);
          !ok)
        return tl::unexpected(ok.error());
      auto stmt = c.prepare(
          "INSERT INTO api_keys (user_id, name, public_id, secret_hash, scopes, created_at, "
          "expires_at) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, k.user_id).bind(2, k.name).bind(3, k.public_id).bind(4, k.secret_hash);
      stmt->bind(5, joinScopes(k.scopes)).bind(6, k.created_at);
      if (k.expires_at)
        stmt->bind(7, *k.expires_at);
      else
        stmt->bindNull(7);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      k.id = c.lastInsertRowid();
      return k;
    });
  }

  core::Result<std::optional<ApiKey>> findByPublicId(std::string_view public_id) override {
    return one(std::string(kApiKeySelect) + "WHERE public_id = ?",
               [&](Statement& s) { s.bind(1, public_id); });
  }

  core::Result<std::optional<ApiKey>> findById(std::int64_t id) override {
    return one(std::string(kApiKeySelect) + "WHERE id = ?", [&](Statement& s) { s.bind(1, id); });
  }

  core::Result<std::vector<ApiKey>> listForUser(std::int64_t user_id) override {
    return pool_.with([&](Connection& c) -> core::Result<std::vector<ApiKey>> {
      auto stmt = c.prepare(std::string(kApiKeySelect) +
                            "WHERE user_id = ? AND revoked = 0 ORDER BY id DESC");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, user_id);
      return allRows<ApiKey>(*stmt, readApiKey);
    });
  }

  core::Status revoke(std::int64_t id, std::int64_t user_id) override {
    return run(pool_,
               "UPDATE api_keys SET revoked = 1 WHERE id = ? AND user_id = ? AND revoked = 0",
               "api key", id, user_id);
  }

  core::Status touch(std::int64_t id, std::int64_t when) override {
    return run(pool_, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", nullptr, when, id);
  }

  core::Result<std::int64_t> purgeDead(std::int64_t before, std::int64_t limit) override {
    return purgeRows(pool_, "api_keys",
                     "expires_at < ?1 OR (revoked = 1 AND COALESCE(last_used_at, created_at) < ?1)",
                     before, limit);
  }

  core::Result<ChangeLogRead> changesSince(std::int64_t seq) override {
    return pool_.with(
        [&](Connection& c) { return changeLog(c, "api_key_changes", "key_id", seq); });
  }

  core::Result<std::int64_t> purgeChanges(std::int64_t before, std::int64_t limit) override {
    return purgeLog(pool_, "api_key_changes", before, limit);
  }

 private:
  core::Result<std::optional<ApiKey>> one(const std::string& sql,
                                          const std::function<void(Statement&)>& bind) {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<ApiKey>> {
      auto stmt = c.prepare(sql);
      if (!stmt) return tl::unexpected(stmt.error());
      bind(*stmt);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::optional<ApiKey>{};
      return std::optional<ApiKey>(readApiKey(*stmt));
    });
  }

  ConnectionPool& pool_;
};

constexpr std::string_view kIdentitySelect =
    "SELECT id, user_id, provider, issuer, subject, email, created_at, verified_email FROM "
    "identities ";

Identity readIdentity(const Statement& s) {
  return Identity{s.int64(0), s.int64(1), s.text(2),  s.text(3),
                  s.text(4),  s.text(5),  s.int64(6), s.text(7)};
}

core::Result<Identity> insertIdentity(Connection& c, Identity i) {
  auto stmt = c.prepare(
      "INSERT INTO identities (user_id, provider, issuer, subject, email, created_at, "
      "verified_email) VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!stmt) return tl::unexpected(stmt.error());
  stmt->bind(1, i.user_id)
      .bind(2, i.provider)
      .bind(3, i.issuer)
      .bind(4, i.subject)
      .bind(5, i.email);
  stmt->bind(6, i.created_at).bind(7, i.verified_email);
  if (auto ok = stmt->run(); !ok) {
    core::Error e = ok.error();
    if (e.code == Errc::AlreadyExists) {
      e.message = "identity";
      e.conflict = core::Conflict::Identity;
    }
    return tl::unexpected(e);
  }
  i.id = c.lastInsertRowid();
  // Linked again (anywhere): no longer a removed one.
  auto forget = c.prepare("DELETE FROM removed_identities WHERE issuer = ? AND subject = ?");
  if (!forget) return tl::unexpected(forget.error());
  forget->bind(1, i.issuer).bind(2, i.subject);
  if (auto ok = forget->run(); !ok) return tl::unexpected(ok.error());
  return i;
}

class SqliteIdentities final : public IdentityStore {
 public:
  explicit SqliteIdentities(ConnectionPool& pool) : pool_(pool) {}

  core::Result<Identity> create(Identity identity) override {
    return pool_.transaction<Identity>([&](Connection& c) { return insertIdentity(c, identity); });
  }

  core::Result<std::optional<Identity>> find(std::string_view issuer,
                                             std::string_view subject) override {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<Identity>> {
      auto stmt = c.prepare(std::string(kIdentitySelect) + "WHERE issuer = ? AND subject = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, issuer).bind(2, subject);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::optional<Identity>{};
      return std::optional<Identity>(readIdentity(*stmt));
    });
  }

  core::Result<std::vector<Identity>> listForUser(std::int64_t user_id) override {
    return pool_.with([&](Connection& c) -> core::Result<std::vector<Identity>> {
      auto stmt = c.prepare(std::string(kIdentitySelect) + "WHERE user_id = ? ORDER BY id");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, user_id);
      return allRows<Identity>(*stmt, readIdentity);
    });
  }

  core::Result<std::optional<std::int64_t>> removedFrom(std::string_view issuer,
                                                        std::string_view subject) override {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<std::int64_t>> {
      auto stmt = c.prepare(
          "SELECT r.user_id FROM removed_identities r JOIN users u ON u.id = r.user_id WHERE "
          "r.issuer = ? AND r.subject = ? AND u.is_active = 1 AND r.removed_at > "
          "CAST(strftime('%s', 'now') AS INTEGER) - ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, issuer).bind(2, subject).bind(3, kRemovedIdentityDays * 86400);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::optional<std::int64_t>{};
      return std::optional<std::int64_t>(stmt->int64(0));
    });
  }

  core::Status noteVerifiedEmail(std::int64_t id, std::string_view verified_email) override {
    return pool_.with([&](Connection& c) -> core::Status {
      auto stmt = c.prepare(
          "UPDATE identities SET verified_email = ? WHERE id = ? AND verified_email <> ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, verified_email).bind(2, id).bind(3, verified_email);
      return stmt->run();
    });
  }

  core::Status removeUnlessLast(std::int64_t id, std::int64_t user_id) override {
    auto done = pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      auto mine = c.prepare("SELECT COUNT(*) FROM identities WHERE id = ? AND user_id = ?");
      if (!mine) return tl::unexpected(mine.error());
      mine->bind(1, id).bind(2, user_id);
      if (auto row = mine->step(); !row) return tl::unexpected(row.error());
      if (mine->int64(0) == 0) return makeError(Errc::NotFound, "identity");
      auto others = c.prepare(
          "SELECT (SELECT COUNT(*) FROM identities WHERE user_id = ? AND id <> ?), "
          "(SELECT password_hash <> '' FROM users WHERE id = ?)");
      if (!others) return tl::unexpected(others.error());
      others->bind(1, user_id).bind(2, id).bind(3, user_id);
      if (auto row = others->step(); !row) return tl::unexpected(row.error());
      if (others->int64(0) == 0 && others->int64(1) == 0) {
        return makeError(Errc::FailedPrecondition, "last way to sign in");
      }
      auto kept = c.prepare(
          "INSERT OR IGNORE INTO unlinked_identities (user_id, issuer, subject, unlinked_at) "
          "SELECT user_id, issuer, subject, CAST(strftime('%s', 'now') AS INTEGER) FROM identities "
          "WHERE id = ?");
      if (!kept) return tl::unexpected(kept.error());
      kept->bind(1, id);
      if (auto ok = kept->run(); !ok) return tl::unexpected(ok.error());
      auto forget = c.prepare(
          "DELETE FROM removed_identities WHERE (issuer, subject) IN (SELECT issuer, subject FROM "
          "identities WHERE id = ?)");
      if (!forget) return tl::unexpected(forget.error());
      forget->bind(1, id);
      if (auto ok = forget->run(); !ok) return tl::unexpected(ok.error());
      auto del = c.prepare("DELETE FROM identities WHERE id = ?");
      if (!del) return tl::unexpected(del.error());
      del->bind(1, id);
      if (auto ok = del->run(); !ok) return tl::unexpected(ok.error());
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return {};
  }

  core::Result<bool> unlinkedBy(std::int64_t user_id, std::string_view issuer,
                                std::string_view subject) override {
    return pool_.with([&](Connection& c) -> core::Result<bool> {
      auto stmt = c.prepare(
          "SELECT COUNT(*) FROM unlinked_identities WHERE user_id = ? AND issuer = ? AND "
          "subject = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, user_id).bind(2, issuer).bind(3, subject);
      if (auto row = stmt->step(); !row) return tl::unexpected(row.error());
      return stmt->int64(0) > 0;
    });
  }

  core::Result<Identity> linkByOwner(Identity identity, std::int64_t most,
                                     std::string_view session_id) override {
    return pool_.transaction<Identity>([&](Connection& c) -> core::Result<Identity> {
      // A user gone is NotFound, as on PostgreSQL (not the foreign key's FailedPrecondition).
      auto user = c.prepare("SELECT COUNT(*) FROM users WHERE id = ?");
      if (!user) return tl::unexpected(user.error());
      user->bind(1, identity.user_id);
      if (auto row = user->step(); !row) return tl::unexpected(row.error());
      if (user->int64(0) == 0) return makeError(Errc::NotFound, "user");
      auto live = sessionLive(c, session_id, identity.user_id, identity.created_at);
      if (!live) return tl::unexpected(live.error());
      if (!*live) return makeError(Errc::FailedPrecondition, "session");
      auto held = c.prepare("SELECT COUNT(*) FROM identities WHERE user_id = ?");
      if (!held) return tl::unexpected(held.error());
      held->bind(1, identity.user_id);
      if (auto row = held->step(); !row) return tl::unexpected(row.error());
      if (held->int64(0) >= most) return makeError(Errc::ResourceExhausted, "identities");
      auto linked = insertIdentity(c, identity);
      if (!linked) return linked;
      auto forget = c.prepare(
          "DELETE FROM unlinked_identities WHERE user_id = ? AND issuer = ? AND subject = ?");
      if (!forget) return tl::unexpected(forget.error());
      forget->bind(1, identity.user_id).bind(2, identity.issuer).bind(3, identity.subject);
      if (auto ok = forget->run(); !ok) return tl::unexpected(ok.error());
      return linked;
    });
  }

  core::Result<User> createUserWithIdentity(const NewUser& u, Identity identity) override {
    return pool_.transaction<User>([&](Connection& c) -> core::Result<User> {
      auto inserted = insertUser(c, u);
      if (!inserted) return inserted;
      User user = std::move(*inserted);
      identity.user_id = user.id;
      identity.created_at = user.created_at;
      if (auto ok = insertIdentity(c, identity); !ok) return tl::unexpected(ok.error());
      return user;
    });
  }

 private:
  ConnectionPool& pool_;
};

constexpr std::string_view kFactorSelect =
    "SELECT id, user_id, type, name, secret, confirmed, created_at, last_used_at, last_step, "
    "COALESCE(credential_id, ''), passkey FROM mfa_factors ";

MfaFactor readFactor(const Statement& s) {
  MfaFactor f{s.int64(0), s.int64(1), s.text(2),  s.text(3), s.text(4), s.int64(5) != 0,
              s.int64(6), {},         s.int64(8), s.text(9), s.text(10)};
  if (s.int64(7) != 0) f.last_used_at = s.int64(7);
  return f;
}

// Statements run in order, each with the same single binding (a user id).
core::Status forUser(Connection& c, std::int64_t user_id,
                     std::initializer_list<std::string_view> statements) {
  for (const auto sql : statements) {
    auto stmt = c.prepare(sql);
    if (!stmt) return tl::unexpected(stmt.error());
    stmt->bind(1, user_id);
    if (auto ok = stmt->run(); !ok) return ok;
  }
  return {};
}

// The user's recovery codes become `hashes`, and their codes' count starts again (new codes; a
// count an older node left during a roll-out never locks a first factor's: a review).
core::Status insertCodes(Connection& c, std::int64_t user_id,
                         const std::vector<std::string>& hashes) {
  if (auto ok = forUser(c, user_id,
                        {"DELETE FROM recovery_codes WHERE user_id = ?1",
                         "DELETE FROM mfa_code_attempts WHERE user_id = ?1"});
      !ok)
    return ok;
  for (const auto& h : hashes) {
    auto stmt = c.prepare("INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)");
    if (!stmt) return tl::unexpected(stmt.error());
    stmt->bind(1, user_id).bind(2, h);
    if (auto ok = stmt->run(); !ok) return ok;
  }
  return {};
}

// MfaStore::countCodeAttempt in one statement: a row that already holds `threshold` is left as it
// is and returns nothing.
constexpr const char* kCountCodeAttempt =
    "INSERT INTO mfa_code_attempts (user_id, attempts) VALUES (?1, 1) ON CONFLICT (user_id) DO "
    "UPDATE SET attempts = mfa_code_attempts.attempts + 1 WHERE mfa_code_attempts.attempts < ?2 "
    "RETURNING attempts";

// The user's mfa_enabled follows their confirmed factors; with none left the recovery codes go,
// and the codes' count (a review: a new authenticator app found its codes locked by the old
// one's count).
core::Status settleMfa(Connection& c, std::int64_t user_id) {
  return forUser(c, user_id,
                 {"UPDATE users SET mfa_enabled = EXISTS (SELECT 1 FROM mfa_factors WHERE user_id "
                  "= users.id AND confirmed = 1) WHERE id = ?1 AND mfa_enabled <> EXISTS (SELECT 1 "
                  "FROM mfa_factors WHERE user_id = users.id AND confirmed = 1)",
                  "DELETE FROM recovery_codes WHERE user_id = ?1 AND NOT EXISTS (SELECT 1 FROM "
                  "mfa_factors WHERE user_id = ?1 AND confirmed = 1)",
                  "DELETE FROM mfa_code_attempts WHERE user_id = ?1 AND NOT EXISTS (SELECT 1 FROM "
                  "mfa_factors WHERE user_id = ?1 AND confirmed = 1)"});
}

// Removes the user's identities, or with `keep_proving` only those whose provider did not verify
// that address (NOCASE folds ASCII letters alone, as sameAddress), each remembered as removed from
// the account and as unlinked from it (IdentityStore::removedFrom, unlinkedBy). How many went.
core::Result<std::int64_t> removeIdentities(Connection& c, std::int64_t user_id,
                                            std::optional<std::string_view> keep_proving) {
  const std::string which = std::string("FROM identities WHERE user_id = ?1") +
                            (keep_proving ? " AND NOT (verified_email = ?2 COLLATE NOCASE)" : "");
  const std::string statements[] = {
      "INSERT INTO removed_identities (issuer, subject, user_id, removed_at) SELECT issuer, "
      "subject, user_id, CAST(strftime('%s', 'now') AS INTEGER) " +
          which +
          " ON CONFLICT (issuer, subject) DO UPDATE SET user_id = excluded.user_id, removed_at = "
          "excluded.removed_at",
      "INSERT INTO unlinked_identities (user_id, issuer, subject, unlinked_at) SELECT user_id, "
      "issuer, subject, CAST(strftime('%s', 'now') AS INTEGER) " +
          which + " ON CONFLICT DO NOTHING",
      "DELETE " + which};
  for (const auto& sql : statements) {
    auto stmt = c.prepare(sql);
    if (!stmt) return tl::unexpected(stmt.error());
    stmt->bind(1, user_id);
    if (keep_proving) stmt->bind(2, *keep_proving);
    if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
  }
  return std::int64_t{c.changes()};  // the DELETE's
}

core::Status keepPasskeysAsSecondFactorsOnly(Connection& c, std::int64_t user_id) {
  return forUser(c, user_id,
                 {"UPDATE mfa_factors SET passkey = json_set(passkey, '$.second_factor_only', "
                  "json('true')) WHERE user_id = ?1 AND type = 'webauthn'"});
}

// See TokenEffect::ResetPassword: the linked identities go (with `keep_proving`, a first
// password, those whose provider verified that address stay); the passkeys stay second factors
// only. How many identities went.
core::Result<std::int64_t> dropOtherWaysIn(Connection& c, std::int64_t user_id,
                                           std::optional<std::string_view> keep_proving) {
  auto dropped = removeIdentities(c, user_id, keep_proving);
  if (!dropped) return dropped;
  if (auto ok = keepPasskeysAsSecondFactorsOnly(c, user_id); !ok) return tl::unexpected(ok.error());
  return dropped;
}

class SqliteMfa final : public MfaStore {
 public:
  explicit SqliteMfa(ConnectionPool& pool) : pool_(pool) {}

  core::Result<MfaFactor> create(MfaFactor f, std::int64_t max_factors) override {
    return pool_.transaction<MfaFactor>([&](Connection& c) -> core::Result<MfaFactor> {
      auto drop = c.prepare("DELETE FROM mfa_factors WHERE user_id = ? AND confirmed = 0");
      if (!drop) return tl::unexpected(drop.error());
      drop->bind(1, f.user_id);
      if (auto ok = drop->run(); !ok) return tl::unexpected(ok.error());
      if (auto ok = belowCap(c, "SELECT COUNT(*) FROM mfa_factors WHERE user_id = ?",
                             static_cast<std::uint64_t>(std::max<std::int64_t>(max_factors, 0)),
                             "factors", f.user_id);
          !ok)
        return tl::unexpected(ok.error());
      auto stmt = c.prepare(
          "INSERT INTO mfa_factors (user_id, type, name, secret, confirmed, created_at) VALUES (?, "
          "?, ?, ?, 0, ?)");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, f.user_id, f.type, f.name, f.secret, f.created_at);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      f.id = c.lastInsertRowid();
      f.confirmed = false;
      return f;
    });
  }

  core::Result<std::vector<MfaFactor>> listForUser(std::int64_t user_id) override {
    return pool_.with([&](Connection& c) -> core::Result<std::vector<MfaFactor>> {
      auto stmt = c.prepare(std::string(kFactorSelect) + "WHERE user_id = ? ORDER BY id");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, user_id);
      return allRows<MfaFactor>(*stmt, readFactor);
    });
  }

  core::Result<std::optional<MfaFactor>> find(std::int64_t id) override {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<MfaFactor>> {
      auto stmt = c.prepare(std::string(kFactorSelect) + "WHERE id = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, id);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::optional<MfaFactor>{};
      return std::optional<MfaFactor>(readFactor(*stmt));
    });
  }

  core::Result<bool> confirm(std::int64_t id, std::int64_t user_id, std::int64_t step,
                             std::int64_t now, const std::vector<std::string>& recovery_hashes,
                             std::int64_t max_factors) override {
    return pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      auto first =
          c.prepare("SELECT COUNT(*) FROM mfa_factors WHERE user_id = ? AND confirmed = 1");
      if (!first) return tl::unexpected(first.error());
      first->bind(1, user_id);
      if (auto row = first->step(); !row) return tl::unexpected(row.error());
      if (first->int64(0) >= max_factors) return makeError(Errc::ResourceExhausted, "factors");
      const bool had_none = first->int64(0) == 0;
      auto stmt = c.prepare(
          "UPDATE mfa_factors SET confirmed = 1, last_step = ?, last_used_at = ? WHERE id = ? AND "
          "user_id = ? AND confirmed = 0");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, step, now, id, user_id);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      if (c.changes() == 0) return makeError(Errc::NotFound, "factor");
      if (had_none) {
        if (auto ok = insertCodes(c, user_id, recovery_hashes); !ok)
          return tl::unexpected(ok.error());
      }
      if (auto ok = settleMfa(c, user_id); !ok) return tl::unexpected(ok.error());
      return had_none;
    });
  }

  core::Result<bool> useStep(std::int64_t id, std::int64_t step, std::int64_t now) override {
    return pool_.with([&](Connection& c) -> core::Result<bool> {
      auto stmt = c.prepare(
          "UPDATE mfa_factors SET last_step = ?, last_used_at = ? WHERE id = ? AND confirmed = 1 "
          "AND last_step < ?");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, step, now, id, step);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      return c.changes() == 1;
    });
  }

  core::Result<bool> remove(std::int64_t id, std::int64_t user_id) override {
    return pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      bool confirmed = false;
      {
        auto stmt =
            c.prepare("DELETE FROM mfa_factors WHERE id = ? AND user_id = ? RETURNING confirmed");
        if (!stmt) return tl::unexpected(stmt.error());
        stmt->bind(1, id).bind(2, user_id);
        auto row = stmt->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return makeError(Errc::NotFound, "factor");
        confirmed = stmt->int64(0) != 0;
        if (auto end = stmt->step(); !end) return tl::unexpected(end.error());
      }  // finished before the next statement
      if (auto ok = settleMfa(c, user_id); !ok) return tl::unexpected(ok.error());
      return confirmed;
    });
  }

  core::Result<std::int64_t> removeAll(std::int64_t user_id,
                                       std::optional<std::string_view> role_is) override {
    return pool_.transaction<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
      if (role_is) {
        if (auto ok = requireRole(c, user_id, *role_is); !ok) return tl::unexpected(ok.error());
      }
      std::int64_t confirmed = 0;
      {
        auto stmt = c.prepare("DELETE FROM mfa_factors WHERE user_id = ? RETURNING confirmed");
        if (!stmt) return tl::unexpected(stmt.error());
        stmt->bind(1, user_id);
        for (;;) {
          auto row = stmt->step();
          if (!row) return tl::unexpected(row.error());
          if (!*row) break;
          confirmed += stmt->int64(0) != 0 ? 1 : 0;
        }
      }  // finished before the next statement
      if (auto ok = settleMfa(c, user_id); !ok) return tl::unexpected(ok.error());
      return confirmed;
    });
  }

  core::Status replaceRecoveryCodes(std::int64_t user_id,
                                    const std::vector<std::string>& hashes) override {
    auto done = pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      if (auto ok = insertCodes(c, user_id, hashes); !ok) return tl::unexpected(ok.error());
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return {};
  }

  core::Result<bool> useRecoveryCode(std::int64_t user_id, std::string_view hash,
                                     std::int64_t now) override {
    return pool_.with([&](Connection& c) -> core::Result<bool> {
      auto stmt = c.prepare(
          "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at "
          "= 0");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, now).bind(2, user_id).bind(3, hash);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      return c.changes() == 1;
    });
  }

  core::Result<std::int64_t> recoveryCodesLeft(std::int64_t user_id) override {
    return pool_.with([&](Connection& c) -> core::Result<std::int64_t> {
      auto stmt =
          c.prepare("SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at = 0");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, user_id);
      if (auto row = stmt->step(); !row) return tl::unexpected(row.error());
      return stmt->int64(0);
    });
  }

  core::Result<std::optional<std::int64_t>> countCodeAttempt(std::int64_t user_id,
                                                             std::int64_t threshold) override {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<std::int64_t>> {
      auto stmt = c.prepare(kCountCodeAttempt);
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, user_id, threshold);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::nullopt;  // `threshold` counted: locked
      return stmt->int64(0);
    });
  }

  core::Status clearCodeAttempts(std::int64_t user_id) override {
    return pool_.with([&](Connection& c) -> core::Status {
      return forUser(c, user_id, {"DELETE FROM mfa_code_attempts WHERE user_id = ?"});
    });
  }

  core::Result<std::pair<MfaFactor, bool>> addConfirmed(
      MfaFactor f, std::int64_t max_factors, const std::vector<std::string>& recovery_hashes,
      std::string_view session_id) override {
    using Added = std::pair<MfaFactor, bool>;
    return pool_.transaction<Added>([&](Connection& c) -> core::Result<Added> {
      auto live = sessionLive(c, session_id, f.user_id, std::nullopt);
      if (!live) return tl::unexpected(live.error());
      if (!*live) return makeError(Errc::Aborted, "the asking session ended");
      // Confirmed factors only: an enrolment left unfinished holds no place.
      auto count =
          c.prepare("SELECT COUNT(*) FROM mfa_factors WHERE user_id = ? AND confirmed = 1");
      if (!count) return tl::unexpected(count.error());
      count->bind(1, f.user_id);
      if (auto row = count->step(); !row) return tl::unexpected(row.error());
      if (count->int64(0) >= max_factors) return makeError(Errc::ResourceExhausted, "factors");
      const bool had_none = count->int64(0) == 0;
      auto stmt = c.prepare(
          "INSERT INTO mfa_factors (user_id, type, name, secret, confirmed, created_at, "
          "last_step, credential_id, passkey) VALUES (?, ?, ?, '', 1, ?, ?, ?, ?)");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, f.user_id, f.type, f.name, f.created_at, f.last_step, f.credential_id,
              f.passkey);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      f.id = c.lastInsertRowid();
      f.confirmed = true;
      if (had_none) {
        if (auto ok = insertCodes(c, f.user_id, recovery_hashes); !ok)
          return tl::unexpected(ok.error());
      }
      if (auto ok = settleMfa(c, f.user_id); !ok) return tl::unexpected(ok.error());
      return Added{std::move(f), had_none};
    });
  }

  core::Result<std::optional<MfaFactor>> findByCredential(std::string_view credential_id) override {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<MfaFactor>> {
      auto stmt =
          c.prepare(std::string(kFactorSelect) + "WHERE credential_id = ? AND confirmed = 1");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, credential_id);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::optional<MfaFactor>{};
      return std::optional<MfaFactor>(readFactor(*stmt));
    });
  }

  core::Result<bool> useSignCount(std::int64_t id, std::int64_t count, std::string_view read,
                                  std::string_view passkey, std::int64_t now) override {
    return pool_.with([&](Connection& c) -> core::Result<bool> {
      auto stmt = c.prepare(
          "UPDATE mfa_factors SET last_step = ?1, passkey = ?2, last_used_at = ?3 WHERE id = ?4 "
          "AND confirmed = 1 AND (last_step < ?1 OR (?1 = 0 AND last_step = 0)) AND passkey = ?5");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, count, passkey, now, id, read);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      return c.changes() == 1;
    });
  }

  core::Status rename(std::int64_t id, std::int64_t user_id, std::string_view name) override {
    auto done = pool_.with([&](Connection& c) -> core::Result<bool> {
      auto stmt = c.prepare("UPDATE mfa_factors SET name = ? WHERE id = ? AND user_id = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, name, id, user_id);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      if (c.changes() == 0) return makeError(Errc::NotFound, "factor");
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return {};
  }

 private:
  ConnectionPool& pool_;
};

constexpr std::string_view kTokenSelect =
    "SELECT hash, user_id, purpose, email, created_at, expires_at FROM email_tokens ";
constexpr std::string_view kOutboxColumns =
    "id, kind, sender, recipient, user_id, body, created_at, attempts, claimed_until, expires_at";

EmailToken readToken(const Statement& s) {
  return EmailToken{s.text(0), s.int64(1), s.text(2), s.text(3), s.int64(4), s.int64(5)};
}

OutboxMessage readMessage(const Statement& s) {
  return OutboxMessage{s.int64(0),
                       s.text(1),
                       s.text(2),
                       s.text(3),
                       s.isNull(4) ? std::nullopt : std::optional(s.int64(4)),
                       s.text(5),
                       s.int64(6),
                       s.int64(7),
                       s.int64(8),
                       s.int64(9)};
}

class SqliteMail final : public MailStore {
 public:
  explicit SqliteMail(ConnectionPool& pool) : pool_(pool) {}

  core::Status issue(const EmailToken& token, const std::vector<OutboxMessage>& messages,
                     std::int64_t keep, std::string_view live_session) override {
    auto done = pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      // BEGIN IMMEDIATE: no session can end between this check and the commit.
      if (!live_session.empty()) {
        auto live = c.prepare(
            "SELECT COUNT(*) FROM sessions WHERE id = ? AND revoked = 0 AND expires_at > ?");
        if (!live) return tl::unexpected(live.error());
        live->bind(1, live_session).bind(2, token.created_at);
        if (auto row = live->step(); !row) return tl::unexpected(row.error());
        if (live->int64(0) == 0) return makeError(Errc::FailedPrecondition, "session ended");
      }
      if (!token.hash.empty()) {
        if (auto ok = insertToken(c, token, keep, live_session); !ok)
          return tl::unexpected(ok.error());
      }
      if (auto ok = insertMessages(c, messages); !ok) return tl::unexpected(ok.error());
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return {};
  }

  core::Result<User> createUser(const NewUser& user, EmailToken token,
                                const std::vector<OutboxMessage>& messages) override {
    return pool_.transaction<User>([&](Connection& c) -> core::Result<User> {
      auto created = insertUser(c, user);
      if (!created) return created;
      token.user_id = created->id;
      if (auto ok = insertToken(c, token, 1, {}); !ok) return tl::unexpected(ok.error());
      std::vector<OutboxMessage> owned = messages;
      for (auto& m : owned) m.user_id = created->id;
      if (auto ok = insertMessages(c, owned); !ok) return tl::unexpected(ok.error());
      return created;
    });
  }

  core::Result<std::optional<EmailToken>> findToken(std::string_view hash, std::string_view purpose,
                                                    std::int64_t now) override {
    return pool_.with([&](Connection& c) { return liveToken(c, hash, purpose, now); });
  }

  core::Result<User> redeem(std::string_view hash, std::string_view purpose, std::int64_t now,
                            const TokenEffect& effect) override {
    return pool_.transaction<User>([&](Connection& c) -> core::Result<User> {
      auto token = liveToken(c, hash, purpose, now);
      if (!token) return tl::unexpected(token.error());
      if (!*token) return makeError(Errc::NotFound, "token");
      const EmailToken& t = **token;
      auto user =
          oneUser(c, kUserSelect + "WHERE id = ?", [&](Statement& s) { s.bind(1, t.user_id); });
      if (!user) return tl::unexpected(user.error());
      if (!*user || !(*user)->is_active) return makeError(Errc::NotFound, "user");
      User u = **user;
      // The token was sent to an address: it proves nothing once the account's address changed.
      if (effect.kind != TokenEffect::Kind::ChangeEmail && !sameAddress(u.email, t.email)) {
        return makeError(Errc::NotFound, "address changed");
      }
      // One a session asked for (an email change) stands only while that session lives.
      auto asker = c.prepare(
          "SELECT COUNT(*) FROM email_tokens t WHERE t.hash = ? AND (t.session_id IS NULL OR "
          "EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id AND s.revoked = 0 AND "
          "s.expires_at > ?))");
      if (!asker) return tl::unexpected(asker.error());
      bindAll(*asker, hash, now);
      if (auto row = asker->step(); !row) return tl::unexpected(row.error());
      if (asker->int64(0) == 0) return makeError(Errc::NotFound, "the asking session ended");
      auto spend = c.prepare("DELETE FROM email_tokens WHERE user_id = ? AND purpose = ?");
      if (!spend) return tl::unexpected(spend.error());
      spend->bind(1, t.user_id).bind(2, purpose);
      if (auto ok = spend->run(); !ok) return tl::unexpected(ok.error());
      switch (effect.kind) {
        case TokenEffect::Kind::VerifyEmail:
          if (auto ok = setVerified(c, u.id, now); !ok) return tl::unexpected(ok.error());
          break;
        case TokenEffect::Kind::ResetPassword: {
          auto set =
              c.prepare("UPDATE users SET password_hash = ?, address_moved = 0 WHERE id = ?");
          if (!set) return tl::unexpected(set.error());
          bindAll(*set, effect.password_hash, u.id);
          if (auto ok = set->run(); !ok) return tl::unexpected(ok.error());
          if (auto ok = endEverything(c, u.id, now, effect.end_api_keys); !ok)
            return tl::unexpected(ok.error());
          // A first password (an account made by external sign-in) keeps the identities that
          // proved the account's address.
          const bool had_password = !u.password_hash.empty();
          if (effect.had_password) *effect.had_password = had_password;
          auto removed = dropOtherWaysIn(
              c, u.id, had_password ? std::nullopt : std::optional<std::string_view>(u.email));
          if (!removed) return tl::unexpected(removed.error());
          if (!had_password && effect.identities_removed) *effect.identities_removed = *removed;
          if (auto ok = setVerified(c, u.id, now); !ok) return tl::unexpected(ok.error());
          u.address_moved = false;
          u.password_hash = effect.password_hash;
          u.tokens_valid_after = now;
          break;
        }
        case TokenEffect::Kind::ChangeEmail: {
          auto set = c.prepare(
              "UPDATE users SET email = ?, email_verified = 1, address_moved = 1, updated_at = ? "
              "WHERE id = ?");
          if (!set) return tl::unexpected(set.error());
          bindAll(*set, t.email, now, u.id);
          if (auto ok = set->run(); !ok) return tl::unexpected(ok.error());
          if (auto ok = dropEmailedTokens(c, u.id); !ok) return tl::unexpected(ok.error());
          u.email = t.email;
          u.address_moved = true;
          break;
        }
      }
      u.email_verified = true;
      return u;
    });
  }

  core::Result<std::optional<OutboxMessage>> claim(std::int64_t now, std::int64_t lease,
                                                   std::string_view node) override {
    // BEGIN IMMEDIATE holds SQLite's write lock: one claimer at a time, even across processes.
    return pool_.transaction<std::optional<OutboxMessage>>(
        [&](Connection& c) -> core::Result<std::optional<OutboxMessage>> {
          auto pick = c.prepare("SELECT " + std::string(kOutboxColumns) +
                                " FROM mail_outbox WHERE state = 'pending' AND next_attempt_at "
                                "<= ? AND claimed_until <= ? ORDER BY id LIMIT 1");
          if (!pick) return tl::unexpected(pick.error());
          pick->bind(1, now).bind(2, now);
          auto row = pick->step();
          if (!row) return tl::unexpected(row.error());
          if (!*row) return std::optional<OutboxMessage>{};
          OutboxMessage m = readMessage(*pick);
          auto mark = c.prepare(
              "UPDATE mail_outbox SET claimed_until = ?, claimed_by = ?, attempts = attempts + 1 "
              "WHERE id = ?");
          if (!mark) return tl::unexpected(mark.error());
          bindAll(*mark, now + lease, node, m.id);
          if (auto ok = mark->run(); !ok) return tl::unexpected(ok.error());
          m.attempts += 1;
          m.claimed_until = now + lease;
          return std::optional(std::move(m));
        });
  }

  core::Result<std::int64_t> release(std::string_view node) override {
    return pool_.with([&](Connection& c) -> core::Result<std::int64_t> {
      auto stmt = c.prepare(
          "UPDATE mail_outbox SET claimed_until = 0 WHERE state = 'pending' AND claimed_by = ? AND "
          "claimed_until > 0");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, node);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      return static_cast<std::int64_t>(c.changes());
    });
  }

  core::Result<bool> markSent(std::int64_t id, std::int64_t now) override {
    return pool_.with([&](Connection& c) -> core::Result<bool> {
      auto stmt = c.prepare(
          "UPDATE mail_outbox SET state = 'sent', body = '', finished_at = ?, last_error = '' "
          "WHERE id = ? AND state = 'pending'");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, now, id);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      return c.changes() == 1;
    });
  }

  core::Status retryLater(std::int64_t id, std::int64_t next_attempt_at,
                          std::string_view error) override {
    return run(pool_,
               "UPDATE mail_outbox SET next_attempt_at = ?, claimed_until = 0, last_error = ? "
               "WHERE id = ? AND state = 'pending'",
               nullptr, next_attempt_at, error, id);
  }

  core::Status abandon(std::int64_t id, std::int64_t now, std::string_view error) override {
    return run(pool_,
               "UPDATE mail_outbox SET state = 'abandoned', body = '', finished_at = ?, "
               "last_error = ? WHERE id = ? AND state = 'pending'",
               nullptr, now, error, id);
  }

  core::Result<std::int64_t> pending() override {
    return pool_.with([&](Connection& c) -> core::Result<std::int64_t> {
      auto stmt = c.prepare("SELECT COUNT(*) FROM mail_outbox WHERE state = 'pending'");
      if (!stmt) return tl::unexpected(stmt.error());
      if (auto row = stmt->step(); !row) return tl::unexpected(row.error());
      return stmt->int64(0);
    });
  }

  core::Status purge(std::int64_t now, std::int64_t finished_before) override {
    auto done = pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      auto tokens = c.prepare("DELETE FROM email_tokens WHERE expires_at <= ?");
      if (!tokens) return tl::unexpected(tokens.error());
      tokens->bind(1, now);
      if (auto ok = tokens->run(); !ok) return tl::unexpected(ok.error());
      auto mail = c.prepare("DELETE FROM mail_outbox WHERE state <> 'pending' AND finished_at < ?");
      if (!mail) return tl::unexpected(mail.error());
      mail->bind(1, finished_before);
      if (auto ok = mail->run(); !ok) return tl::unexpected(ok.error());
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return {};
  }

 private:
  static core::Result<std::optional<EmailToken>> liveToken(Connection& c, std::string_view hash,
                                                           std::string_view purpose,
                                                           std::int64_t now) {
    auto stmt =
        c.prepare(std::string(kTokenSelect) + "WHERE hash = ? AND purpose = ? AND expires_at > ?");
    if (!stmt) return tl::unexpected(stmt.error());
    stmt->bind(1, hash).bind(2, purpose).bind(3, now);
    auto row = stmt->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<EmailToken>{};
    return std::optional(readToken(*stmt));
  }

  static core::Status setVerified(Connection& c, std::int64_t id, std::int64_t now) {
    auto stmt = c.prepare(
        "UPDATE users SET email_verified = 1, updated_at = ? WHERE id = ? AND email_verified = 0");
    if (!stmt) return tl::unexpected(stmt.error());
    bindAll(*stmt, now, id);
    return stmt->run();
  }

  static core::Status insertToken(Connection& c, const EmailToken& t, std::int64_t keep,
                                  std::string_view session) {
    // Only the newest keep - 1 of this user's live tokens for the purpose stay beside the new one.
    auto trim = c.prepare(
        "DELETE FROM email_tokens WHERE user_id = ? AND purpose = ? AND hash NOT IN (SELECT hash "
        "FROM email_tokens WHERE user_id = ? AND purpose = ? AND expires_at > ? ORDER BY "
        "created_at DESC, hash LIMIT ?)");
    if (!trim) return tl::unexpected(trim.error());
    bindAll(*trim, t.user_id, t.purpose, t.user_id, t.purpose, t.created_at,
            std::max<std::int64_t>(keep - 1, 0));
    if (auto ok = trim->run(); !ok) return ok;
    auto stmt = c.prepare(
        "INSERT INTO email_tokens (hash, user_id, purpose, email, created_at, expires_at, "
        "session_id) VALUES (?, ?, ?, ?, ?, ?, NULLIF(?, ''))");
    if (!stmt) return tl::unexpected(stmt.error());
    bindAll(*stmt, t.hash, t.user_id, t.purpose, t.email, t.created_at, t.expires_at, session);
    return stmt->run();
  }

  static core::Status insertMessages(Connection& c, const std::vector<OutboxMessage>& messages) {
    for (const auto& m : messages) {
      auto stmt = c.prepare(
          "INSERT INTO mail_outbox (kind, sender, recipient, user_id, body, next_attempt_at, "
          "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, m.kind, m.sender, m.recipient);
      if (m.user_id) {
        stmt->bind(4, *m.user_id);
      } else {
        stmt->bindNull(4);
      }
      stmt->bind(5, m.body).bind(6, m.created_at).bind(7, m.created_at).bind(8, m.expires_at);
      if (auto ok = stmt->run(); !ok) return ok;
    }
    return {};
  }

  ConnectionPool& pool_;
};

constexpr std::string_view kClientSelect =
    "SELECT client_id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, "
    "scope, is_public, first_party, created_at, secret_rotated_at FROM op_clients ";

core::Result<OpClient> readClient(const Statement& s) {
  OpClient client;
  client.client_id = s.text(0);
  client.name = s.text(1);
  client.secret_hash = s.text(2);
  for (auto [column, list] :
       {std::pair{3, &client.redirect_uris}, std::pair{4, &client.post_logout_redirect_uris},
        std::pair{5, &client.grant_types}}) {
    auto parsed = listFromJson(s.text(column));
    if (!parsed) return tl::unexpected(parsed.error());
    *list = std::move(*parsed);
  }
  client.scope = s.text(6);
  client.is_public = s.int64(7) != 0;
  client.first_party = s.int64(8) != 0;
  client.created_at = s.int64(9);
  client.secret_rotated_at = s.int64(10);
  return client;
}

constexpr std::string_view kCodeSelect =
    "SELECT hash, client_id, user_id, data, created_at, expires_at, used_at, session_id FROM "
    "op_codes ";

OpCode readCode(const Statement& s) {
  return OpCode{s.text(0), s.text(1), s.int64(2), s.text(3), s.int64(4), s.int64(5)};
}

// Consents and codes go with their client and their user through the foreign keys' cascades
// (every connection turns foreign keys on).
class SqliteOp final : public OpStore {
 public:
  explicit SqliteOp(ConnectionPool& pool) : pool_(pool) {}

  core::Result<OpClient> createClient(const OpClient& client, std::size_t max_clients) override {
    // BEGIN IMMEDIATE holds SQLite's write lock from the count to the insert.
    return pool_.transaction<OpClient>([&](Connection& c) -> core::Result<OpClient> {
      if (auto ok = belowCap(c, "SELECT COUNT(*) FROM op_clients", max_clients,
                             "the provider holds the most clients");
          !ok)
        return tl::unexpected(ok.error());
      auto stmt = c.prepare(
          "INSERT INTO op_clients (client_id, name, secret_hash, redirect_uris, "
          "post_logout_redirect_uris, grant_types, scope, is_public, first_party, created_at, "
          "secret_rotated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, client.client_id, client.name, client.secret_hash,
              listToJson(client.redirect_uris), listToJson(client.post_logout_redirect_uris),
              listToJson(client.grant_types), client.scope, std::int64_t{client.is_public ? 1 : 0},
              std::int64_t{client.first_party ? 1 : 0}, client.created_at,
              client.secret_rotated_at);
      if (auto ok = stmt->run(); !ok) return tl::unexpected(ok.error());
      return client;
    });
  }

  core::Result<std::optional<OpClient>> findClient(std::string_view client_id) override {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<OpClient>> {
      auto stmt = c.prepare(std::string(kClientSelect) + "WHERE client_id = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, client_id);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::optional<OpClient>{};
      auto client = readClient(*stmt);
      if (!client) return tl::unexpected(client.error());
      return std::optional(std::move(*client));
    });
  }

  core::Result<std::vector<OpClient>> listClients() override {
    return pool_.with([&](Connection& c) -> core::Result<std::vector<OpClient>> {
      auto stmt = c.prepare(std::string(kClientSelect) + "ORDER BY created_at, client_id");
      if (!stmt) return tl::unexpected(stmt.error());
      std::vector<OpClient> out;
      for (;;) {
        auto row = stmt->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return out;
        auto client = readClient(*stmt);
        if (!client) return tl::unexpected(client.error());
        out.push_back(std::move(*client));
      }
    });
  }

  core::Result<std::int64_t> removeClient(std::string_view client_id, std::string_view grant_label,
                                          std::int64_t tokens_until) override {
    return pool_.transaction<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
      auto gone = c.prepare("DELETE FROM op_clients WHERE client_id = ?");
      if (!gone) return tl::unexpected(gone.error());
      gone->bind(1, client_id);
      if (auto ok = gone->run(); !ok) return tl::unexpected(ok.error());
      if (c.changes() != 1) return makeError(Errc::NotFound, "client");
      auto grants =
          c.prepare("UPDATE sessions SET revoked = 1 WHERE user_agent = ? AND revoked = 0");
      if (!grants) return tl::unexpected(grants.error());
      grants->bind(1, grant_label);
      if (auto ok = grants->run(); !ok) return tl::unexpected(ok.error());
      const std::int64_t ended = c.changes();
      if (auto ok = holdRevoked(c, clientRevocationKey(client_id), tokens_until); !ok)
        return tl::unexpected(ok.error());
      return ended;
    });
  }

  core::Status setClientSecret(std::string_view client_id, std::string_view secret_hash,
                               std::int64_t now) override {
    auto done = pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      auto kind = c.prepare("SELECT is_public FROM op_clients WHERE client_id = ?");
      if (!kind) return tl::unexpected(kind.error());
      kind->bind(1, client_id);
      auto row = kind->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return makeError(Errc::NotFound, "client");
      if (kind->int64(0) != 0) return makeError(Errc::FailedPrecondition, "public client");
      auto set = c.prepare(
          "UPDATE op_clients SET secret_hash = ?, secret_rotated_at = ? WHERE client_id = ?");
      if (!set) return tl::unexpected(set.error());
      bindAll(*set, secret_hash, now, client_id);
      if (auto ok = set->run(); !ok) return tl::unexpected(ok.error());
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return {};
  }

  core::Status saveConsent(std::int64_t user_id, std::string_view client_id, std::string_view scope,
                           std::int64_t now) override {
    return run(pool_,
               "INSERT INTO op_consents (user_id, client_id, scope, granted_at) VALUES (?, ?, ?, "
               "?) ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, "
               "granted_at = excluded.granted_at",
               nullptr, user_id, client_id, scope, now);
  }

  core::Result<std::optional<std::string>> findConsent(std::int64_t user_id,
                                                       std::string_view client_id) override {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<std::string>> {
      auto stmt = c.prepare("SELECT scope FROM op_consents WHERE user_id = ? AND client_id = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, user_id, client_id);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::optional<std::string>{};
      return std::optional(stmt->text(0));
    });
  }

  core::Status putCode(const OpCode& code) override {
    return run(pool_,
               "INSERT INTO op_codes (hash, client_id, user_id, data, created_at, expires_at) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               nullptr, code.hash, code.client_id, code.user_id, code.data, code.created_at,
               code.expires_at);
  }

  core::Result<std::optional<OpCode>> findCode(std::string_view hash, std::string_view client_id,
                                               std::int64_t now) override {
    return pool_.with([&](Connection& c) -> core::Result<std::optional<OpCode>> {
      auto stmt = c.prepare(std::string(kCodeSelect) +
                            "WHERE hash = ? AND client_id = ? AND (used_at IS NOT NULL OR "
                            "expires_at > ?)");
      if (!stmt) return tl::unexpected(stmt.error());
      bindAll(*stmt, hash, client_id, now);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return std::optional<OpCode>();
      return std::optional<OpCode>(readCode(*stmt));
    });
  }

  core::Result<CodeRedemption> redeemCode(std::string_view hash, std::string_view client_id,
                                          std::string_view session_id, std::int64_t now) override {
    // BEGIN IMMEDIATE holds SQLite's write lock from the read to the commit: of two redeemers
    // (threads or processes), the second reads the code the first spent.
    return pool_.transaction<CodeRedemption>([&](Connection& c) -> core::Result<CodeRedemption> {
      auto stmt = c.prepare(std::string(kCodeSelect) + "WHERE hash = ?");
      if (!stmt) return tl::unexpected(stmt.error());
      stmt->bind(1, hash);
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      CodeRedemption out;
      if (!*row) return out;
      out.code = readCode(*stmt);
      if (out.code.client_id != client_id) return CodeRedemption{};
      if (!stmt->isNull(6)) {
        out.outcome = CodeRedemption::Outcome::Replayed;
        out.session_id = stmt->text(7);
        return out;
      }
      if (out.code.expires_at <= now) return CodeRedemption{};
      auto spend = c.prepare(
          "UPDATE op_codes SET used_at = ?, session_id = ? WHERE hash = ? AND used_at IS NULL");
      if (!spend) return tl::unexpected(spend.error());
      bindAll(*spend, now, session_id, hash);
      if (auto ok = spend->run(); !ok) return tl::unexpected(ok.error());
      if (c.changes() != 1) return makeError(Errc::Internal, "code changed while locked");
      out.outcome = CodeRedemption::Outcome::Redeemed;
      return out;
    });
  }

  core::Status purgeCodes(std::int64_t before) override {
    return run(pool_, "DELETE FROM op_codes WHERE expires_at < ?", nullptr, before);
  }

  core::Result<std::string> signingKey(std::string_view candidate, std::int64_t now) override {
    // An empty candidate only reads (an empty key is never stored).
    if (candidate.empty()) {
      return pool_.with([&](Connection& c) -> core::Result<std::string> {
        auto stored = c.prepare("SELECT sealed FROM op_keys WHERE id = 1");
        if (!stored) return tl::unexpected(stored.error());
        auto row = stored->step();
        if (!row) return tl::unexpected(row.error());
        return *row ? stored->text(0) : std::string();
      });
    }
    return pool_.transaction<std::string>([&](Connection& c) -> core::Result<std::string> {
      auto put = c.prepare(
          "INSERT INTO op_keys (id, sealed, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO "
          "NOTHING");
      if (!put) return tl::unexpected(put.error());
      bindAll(*put, candidate, now);
      if (auto ok = put->run(); !ok) return tl::unexpected(ok.error());
      auto stored = c.prepare("SELECT sealed FROM op_keys WHERE id = 1");
      if (!stored) return tl::unexpected(stored.error());
      auto row = stored->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return makeError(Errc::Internal, "op_keys: no key after insert");
      return stored->text(0);
    });
  }

 private:
  ConnectionPool& pool_;
};

class SqliteKeyRing final : public KeyRingStore {
 public:
  explicit SqliteKeyRing(ConnectionPool& pool) : pool_(pool) {}

  core::Result<std::vector<StoredKey>> list() override {
    return pool_.with([](Connection& c) -> core::Result<std::vector<StoredKey>> {
      auto stmt = c.prepare(
          "SELECT purpose, alg, generation, kid, sealed, created_at, signs_from FROM key_ring "
          "ORDER BY purpose, alg, generation");
      if (!stmt) return tl::unexpected(stmt.error());
      return allRows<StoredKey>(*stmt, [](Statement& r) {
        return StoredKey{r.text(0), r.text(1),  r.int64(2), r.text(3),
                         r.text(4), r.int64(5), r.int64(6)};
      });
    });
  }

  core::Status add(const std::vector<StoredKey>& keys) override { return addThenRemove(keys, 0); }

  core::Status replace(const StoredKey& key) override {
    return addThenRemove({key}, key.generation);
  }

  core::Status removeBelow(std::string_view purpose, std::string_view alg,
                           std::int64_t generation) override {
    return run(pool_, "DELETE FROM key_ring WHERE purpose = ? AND alg = ? AND generation < ?",
               nullptr, purpose, alg, generation);
  }

 private:
  // `keys` stored and, with `below` > 0, the older keys of the first one's (purpose, alg) gone,
  // in one transaction.
  core::Status addThenRemove(const std::vector<StoredKey>& keys, std::int64_t below) {
    return pool_
        .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          for (const auto& k : keys) {
            auto put = c.prepare(
                "INSERT INTO key_ring (purpose, alg, generation, kid, sealed, created_at, "
                "signs_from) VALUES (?, ?, ?, ?, ?, ?, ?)");
            if (!put) return tl::unexpected(put.error());
            bindAll(*put, k.purpose, k.alg, k.generation, k.kid, k.sealed, k.created_at,
                    k.signs_from);
            if (auto ok = put->run(); !ok) return tl::unexpected(ok.error());
          }
          if (below > 0 && !keys.empty()) {
            auto gone =
                c.prepare("DELETE FROM key_ring WHERE purpose = ? AND alg = ? AND generation < ?");
            if (!gone) return tl::unexpected(gone.error());
            bindAll(*gone, keys.front().purpose, keys.front().alg, below);
            if (auto ok = gone->run(); !ok) return tl::unexpected(ok.error());
          }
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

  ConnectionPool& pool_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<ConnectionPool> pool)
      : pool_(std::move(pool)),
        users_(*pool_),
        sessions_(*pool_),
        revocations_(*pool_),
        audit_(*pool_),
        api_keys_(*pool_),
        identities_(*pool_),
        mfa_(*pool_),
        mail_(*pool_),
        op_(*pool_),
        key_ring_(*pool_) {}

  UserStore& users() override { return users_; }
  SessionStore& sessions() override { return sessions_; }
  RevocationStore& revocations() override { return revocations_; }
  AuditStore& audit() override { return audit_; }
  ApiKeyStore& apiKeys() override { return api_keys_; }
  IdentityStore& identities() override { return identities_; }
  MfaStore& mfa() override { return mfa_; }
  MailStore& mail() override { return mail_; }
  OpStore& op() override { return op_; }
  KeyRingStore& keyRing() override { return key_ring_; }

  core::Status intact() override { return pool_->watchWal(); }

  core::Status ping() override {
    if (auto ok = intact(); !ok) return ok;
    return pool_->with([](Connection& c) -> core::Status {
      auto stmt = c.prepare("SELECT 1");
      if (!stmt) return tl::unexpected(stmt.error());
      auto row = stmt->step();
      if (!row) return makeError(Errc::Unavailable, row.error().message);
      return {};
    });
  }

  core::Result<bool> holdsMasterKeyedData() override {
    return pool_->with([](Connection& c) -> core::Result<bool> {
      auto stmt = c.prepare(kMasterKeyedDataQuery);
      if (!stmt) return tl::unexpected(stmt.error());
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      return stmt->int64(0) != 0;
    });
  }

  core::Result<int> migrate() override {
    // A database this version has fully migrated needs no write lock: one read shows it, so a
    // start neither takes the lock once per migration nor waits behind another node's writer.
    constexpr auto kLatest = static_cast<std::int64_t>(std::size(kMigrations));
    if (appliedMigrations() == kLatest) return newestMigration(static_cast<int>(kLatest));
    if (auto ok = pool_->with([](Connection& c) {
          return c.exec(
              "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
              "applied_at INTEGER NOT NULL)");
        });
        !ok) {
      return tl::unexpected(ok.error());
    }
    int version = 0;
    for (std::size_t i = 0; i < std::size(kMigrations); ++i) {
      const auto target = static_cast<std::int64_t>(i + 1);
      // BEGIN IMMEDIATE serialises concurrent migrators; each re-checks inside its transaction.
      auto applied = pool_->transaction<bool>([&](Connection& c) -> core::Result<bool> {
        auto check = c.prepare("SELECT COUNT(*) FROM schema_migrations WHERE version = ?");
        if (!check) return tl::unexpected(check.error());
        check->bind(1, target);
        auto row = check->step();
        if (!row) return tl::unexpected(row.error());
        if (check->int64(0) > 0) return false;
        if (auto ok = c.exec(kMigrations[i]); !ok) return tl::unexpected(ok.error());
        auto mark = c.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
        if (!mark) return tl::unexpected(mark.error());
        mark->bind(1, target).bind(2, nowSeconds());
        if (auto ok = mark->run(); !ok) return tl::unexpected(ok.error());
        return true;
      });
      if (!applied) return tl::unexpected(applied.error());
      version = static_cast<int>(target);
    }
    return newestMigration(version);
  }

 private:
  // The newest migration recorded, `applied` at least: above this version's when a newer version
  // migrated the database (what `migrate` and the start then say).
  int newestMigration(int applied) {
    return pool_->with([applied](Connection& c) -> int {
      auto newest = c.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      if (!newest) return applied;
      auto row = newest->step();
      return row && *row ? std::max(applied, static_cast<int>(newest->int64(0))) : applied;
    });
  }

  // How many of this version's migrations the database records; 0 when it has no record yet (or
  // the read fails: the migration that follows reports what is wrong).
  std::int64_t appliedMigrations() {
    return pool_->with([](Connection& c) -> std::int64_t {
      auto count =
          c.prepare("SELECT COUNT(*) FROM schema_migrations WHERE version BETWEEN 1 AND ?");
      if (!count) return 0;
      count->bind(1, static_cast<std::int64_t>(std::size(kMigrations)));
      auto row = count->step();
      return row && *row ? count->int64(0) : 0;
    });
  }

  std::unique_ptr<ConnectionPool> pool_;
  SqliteUsers users_;
  SqliteSessions sessions_;
  SqliteRevocations revocations_;
  SqliteAudit audit_;
  SqliteApiKeys api_keys_;
  SqliteIdentities identities_;
  SqliteMfa mfa_;
  SqliteMail mail_;
  SqliteOp op_;
  SqliteKeyRing key_ring_;
};

}  // namespace

core::Result<std::unique_ptr<Store>> openSqliteStore(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path() && !std::filesystem::exists(path.parent_path())) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (!ec) {
      std::filesystem::permissions(path.parent_path(), std::filesystem::perms::owner_all, ec);
    }
  }
  if (ec)
    return makeError(Errc::Unavailable,
                     "cannot create " + path.parent_path().string() + ": " + ec.message());
  // The database holds password hashes: create it owner-only before SQLite does (its -wal and
  // -shm files inherit the mode).
  // Never through a link (one left dangling where the database should be would have it
  // created wherever the link points).
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      const int why = errno;
      return makeError(Errc::Unavailable,
                       "cannot create " + path.string() + ": " + std::strerror(why));
    }
    ::close(fd);
  } else if (std::filesystem::is_symlink(std::filesystem::symlink_status(path, ec)) &&
             !std::filesystem::exists(path, ec)) {
    return makeError(Errc::Unavailable,
                     path.string() + " is a link to nothing: not created through it");
  }
  auto pool = ConnectionPool::open(path, 4);
  if (!pool) return tl::unexpected(pool.error());
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(*pool)));
}

}  // namespace gatehouse::store::sqlite
