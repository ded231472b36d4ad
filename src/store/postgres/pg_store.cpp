#include "store/postgres/pg_store.hpp"

#include <array>
#include <chrono>
#include <limits>
#include <set>
#include <variant>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/utf8.hpp"
#include "store/backend_common.hpp"
#include "store/postgres/pg_db.hpp"

namespace gatehouse::store::postgres {
namespace {

using core::Errc;
using core::makeError;

std::int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Advisory lock keys (one namespace per purpose).
constexpr std::int64_t kMigrateLock = 7'261'000;
// Change-log writers take this until commit, so change numbers are handed out in commit order and
// a reader that saw number N has seen every change before it.
constexpr std::int64_t kUserLogLock = 7'261'001;
constexpr std::int64_t kKeyLogLock = 7'261'002;
constexpr std::int64_t kAuditLock = 7'261'003;      // one writer extends the hash chain at a time
constexpr std::int64_t kLastAdminLock = 7'261'004;  // "never remove the last admin" checks
constexpr std::int64_t kOpClientLock = 7'261'005;   // the provider's count of clients
constexpr std::int64_t kImportLock = 7'261'006;     // imports' legacy-subject decisions

// The SQLite backend's migrations in PostgreSQL's dialect, version for version. Never edit a
// released one: add a new entry to both backends.
constexpr std::string_view kMigrations[] = {
    // 1: users, sessions (refresh-token families), revoked access tokens.
    R"sql(
CREATE TABLE users (
  id            BIGSERIAL PRIMARY KEY,
  email         TEXT NOT NULL,
  username      TEXT NOT NULL,
  password_hash TEXT NOT NULL DEFAULT '',
  role          TEXT NOT NULL,
  is_active     BOOLEAN NOT NULL DEFAULT TRUE,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE INDEX users_role_active ON users (role, is_active);
CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,
  user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  refresh_jti  TEXT NOT NULL,
  user_agent   TEXT NOT NULL DEFAULT '',
  ip           TEXT NOT NULL DEFAULT '',
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  revoked      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE revoked_tokens (
  jti        TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
)sql",
    // 2: token watermarks, a change log for caches, grace-window rotation, the audit chain.
    R"sql(
ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;
CREATE TABLE user_changes (
  seq     BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  at      BIGINT NOT NULL
);
CREATE FUNCTION gatehouse_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7261001);
  INSERT INTO user_changes (user_id, at)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
            extract(epoch FROM now())::bigint);
  RETURN NULL;
END $$;
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION gatehouse_user_changed();
ALTER TABLE sessions ADD COLUMN previous_jti TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN rotated_at BIGINT NOT NULL DEFAULT 0;
CREATE TABLE audit_events (
  id          BIGINT PRIMARY KEY,
  time_ms     BIGINT NOT NULL,
  type        TEXT NOT NULL,
  request_id  TEXT NOT NULL DEFAULT '',
  actor_id    BIGINT,
  subject_id  BIGINT,
  client_ip   TEXT NOT NULL DEFAULT '',
  user_agent  TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT '{}',
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
);
CREATE INDEX audit_type_time ON audit_events (type, time_ms);
CREATE INDEX audit_actor ON audit_events (actor_id);
CREATE INDEX audit_subject ON audit_events (subject_id);
CREATE FUNCTION gatehouse_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_audit_append_only();
)sql",
    // 3: API keys (hash only) and their change log.
    R"sql(
CREATE TABLE api_keys (
  id           BIGSERIAL PRIMARY KEY,
  user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  public_id    TEXT NOT NULL,
  secret_hash  TEXT NOT NULL,
  scopes       TEXT NOT NULL DEFAULT '',
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT,
  last_used_at BIGINT,
  revoked      BOOLEAN NOT NULL DEFAULT FALSE,
  CONSTRAINT api_keys_public_id_key UNIQUE (public_id)
);
CREATE INDEX api_keys_user ON api_keys (user_id);
CREATE TABLE api_key_changes (
  seq    BIGSERIAL PRIMARY KEY,
  key_id BIGINT NOT NULL
);
CREATE FUNCTION gatehouse_api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7261002);
  INSERT INTO api_key_changes (key_id) VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
  RETURN NULL;
END $$;
CREATE TRIGGER api_keys_revoked AFTER UPDATE OF revoked ON api_keys
  FOR EACH ROW EXECUTE FUNCTION gatehouse_api_key_changed();
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION gatehouse_api_key_changed();
)sql",
    // 4: external sign-in identities.
    R"sql(
CREATE TABLE identities (
  id         BIGSERIAL PRIMARY KEY,
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider   TEXT NOT NULL,
  issuer     TEXT NOT NULL,
  subject    TEXT NOT NULL,
  email      TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  CONSTRAINT identities_identity_key UNIQUE (issuer, subject)
);
CREATE INDEX identities_user ON identities (user_id);
)sql",
    // 5: whether a user's email is proven (external sign-in links only to such accounts).
    R"sql(
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
)sql",
    // 6: second factors (sealed secrets, the last accepted TOTP step) and recovery codes.
    R"sql(
ALTER TABLE users ADD COLUMN mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE mfa_factors (
  id           BIGSERIAL PRIMARY KEY,
  user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  type         TEXT NOT NULL,
  name         TEXT NOT NULL DEFAULT '',
  secret       TEXT NOT NULL,
  confirmed    BOOLEAN NOT NULL DEFAULT FALSE,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL DEFAULT 0,
  last_step    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mfa_factors_user ON mfa_factors (user_id);
CREATE TABLE recovery_codes (
  user_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used_at   BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, code_hash)
);
)sql",
    // 7: email tokens (keyed digests only) and the mail outbox.
    R"sql(
CREATE TABLE email_tokens (
  hash       TEXT PRIMARY KEY,
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  purpose    TEXT NOT NULL,
  email      TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expiry ON email_tokens (expires_at);
CREATE TABLE mail_outbox (
  id              BIGSERIAL PRIMARY KEY,
  kind            TEXT NOT NULL,
  sender          TEXT NOT NULL,
  recipient       TEXT NOT NULL,
  user_id         BIGINT,
  body            TEXT NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending',
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  claimed_until   BIGINT NOT NULL DEFAULT 0,
  claimed_by      TEXT NOT NULL DEFAULT '',
  expires_at      BIGINT NOT NULL DEFAULT 0,
  created_at      BIGINT NOT NULL,
  finished_at     BIGINT NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
)sql",
    // 8: Gatehouse as an OpenID Provider: clients (lists as JSON arrays), consents, authorization
    // codes (keyed digests only; used_at NULL while unspent) and the one sealed signing key.
    // Keys are named <table>_<column>_key so a duplicate reports the column, as on SQLite.
    R"sql(
CREATE TABLE op_clients (
  client_id                 TEXT NOT NULL,
  name                      TEXT NOT NULL DEFAULT '',
  secret_hash               TEXT NOT NULL DEFAULT '',
  redirect_uris             TEXT NOT NULL DEFAULT '[]',
  post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
  grant_types               TEXT NOT NULL DEFAULT '[]',
  scope                     TEXT NOT NULL DEFAULT '',
  is_public                 BOOLEAN NOT NULL DEFAULT FALSE,
  first_party               BOOLEAN NOT NULL DEFAULT FALSE,
  created_at                BIGINT NOT NULL,
  secret_rotated_at         BIGINT NOT NULL DEFAULT 0,
  CONSTRAINT op_clients_client_id_key PRIMARY KEY (client_id)
);
CREATE TABLE op_consents (
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id  TEXT NOT NULL REFERENCES op_clients(client_id) ON DELETE CASCADE,
  scope      TEXT NOT NULL,
  granted_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, client_id)
);
CREATE INDEX op_consents_client ON op_consents (client_id);
CREATE TABLE op_codes (
  hash       TEXT NOT NULL,
  client_id  TEXT NOT NULL REFERENCES op_clients(client_id) ON DELETE CASCADE,
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  data       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at    BIGINT,
  session_id TEXT NOT NULL DEFAULT '',
  CONSTRAINT op_codes_hash_key PRIMARY KEY (hash)
);
CREATE INDEX op_codes_expiry ON op_codes (expires_at);
CREATE INDEX op_codes_client ON op_codes (client_id);
CREATE INDEX op_codes_user ON op_codes (user_id);
CREATE TABLE op_keys (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  sealed     TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
)sql",
    // 9: passkeys are second factors too: their credential id (unique across users) and record.
    R"sql(
ALTER TABLE mfa_factors ADD COLUMN credential_id TEXT;
ALTER TABLE mfa_factors ADD COLUMN passkey TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX mfa_factors_credential ON mfa_factors (credential_id);
)sql",
    // 10: users moved in from elsewhere keep their old id for that system's tokens.
    R"sql(
CREATE TABLE legacy_subjects (
  source  TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (source, subject)
);
)sql",
    // 11: generated keys live in the database, sealed under the key-encryption key, so every
    // node signs and verifies with the same ones and follows a rotation without a restart.
    R"sql(
CREATE TABLE key_ring (
  purpose    TEXT NOT NULL,
  alg        TEXT NOT NULL,
  generation BIGINT NOT NULL,
  kid        TEXT NOT NULL,
  sealed     TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  signs_from BIGINT NOT NULL,
  PRIMARY KEY (purpose, alg, generation)
);
)sql",
    // 12: ended sessions and dead API keys are purged (a day after they could last matter),
    // found by these.
    R"sql(
CREATE INDEX sessions_expiry ON sessions(expires_at);
CREATE INDEX sessions_ended ON sessions(last_used_at) WHERE revoked;
CREATE INDEX api_keys_expiry ON api_keys(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX api_keys_revoked ON api_keys(id) WHERE revoked;
)sql",
    // 13: the change logs are purged a day on too; a read from before a purge is told that it
    // missed changes (by the horizon), and API key changes carry their time as user changes do
    // (those already recorded count from this migration: a stable default is stored once, in
    // the catalogue, so a long log is not rewritten under the ALTER's lock).
    R"sql(
CREATE TABLE change_log_horizons (
  log            TEXT PRIMARY KEY,
  purged_through BIGINT NOT NULL
);
ALTER TABLE api_key_changes
  ADD COLUMN at BIGINT NOT NULL DEFAULT (extract(epoch FROM now())::bigint);
ALTER TABLE api_key_changes ALTER COLUMN at SET DEFAULT 0;
CREATE OR REPLACE FUNCTION gatehouse_api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7261002);
  INSERT INTO api_key_changes (key_id, at)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
            extract(epoch FROM now())::bigint);
  RETURN NULL;
END $$;
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
    // 16: emails and usernames are the same name when they differ in the case of ASCII letters
    // only, as in SQLite (NOCASE) and in the rate limits' and lockout's keys. The database's
    // locale folded more (the Kelvin sign as k, a dotted capital I as i), so one account had many
    // spellings, each with its own lockout and limits (found by an outside attack). lower() under
    // the "C" collation folds A-Z alone; the indexes are rebuilt on that. They are no stricter
    // than before unless the database's locale folded A-Z otherwise (Turkish: I as ı), where two
    // names differing in such a letter's case could be held before and the migration fails
    // naming the column (docs/deployment.md, Upgrades).
    R"sql(
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email COLLATE "C"));
DROP INDEX users_username_key;
CREATE UNIQUE INDEX users_username_key ON users (lower(username COLLATE "C"));
)sql",
    // 17: the identities a user unlinked, which never link themselves to that account again by
    // their email.
    R"sql(
CREATE TABLE unlinked_identities (
  user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  issuer      TEXT NOT NULL,
  subject     TEXT NOT NULL,
  unlinked_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, issuer, subject)
);
)sql",
    // 18: a user's second-factor codes tried in a row, which lock them at MFA_LOCKOUT_THRESHOLD
    // (MfaStore::countCodeAttempt).
    R"sql(
CREATE TABLE mfa_code_attempts (
  user_id  BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  attempts BIGINT NOT NULL
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
ALTER TABLE users ADD COLUMN address_moved BOOLEAN NOT NULL DEFAULT FALSE;
)sql",
    // 22: the identities a reset (or a password someone else set) removed from an account, which
    // make no account of their own at their next sign-in (IdentityStore::removedFrom).
    R"sql(
CREATE TABLE removed_identities (
  issuer     TEXT NOT NULL,
  subject    TEXT NOT NULL,
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  removed_at BIGINT NOT NULL,
  PRIMARY KEY (issuer, subject)
);
CREATE INDEX removed_identities_user ON removed_identities (user_id);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

static_assert(kUserLogLock == 7'261'001 && kKeyLogLock == 7'261'002,
              "the trigger functions above name these lock keys literally");

using Pool = ConnectionPool;

// A name's lookup, on the indexes of migration 16 (ASCII letters folded, nothing else).
constexpr const char* kByEmail = R"(WHERE lower(email COLLATE "C") = lower($1::text COLLATE "C"))";
constexpr const char* kByUsername =
    R"(WHERE lower(username COLLATE "C") = lower($1::text COLLATE "C"))";

template <class T, class Read>
std::vector<T> allRows(const Rows& rows, Read read) {
  std::vector<T> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) out.push_back(read(rows, i));
  return out;
}

core::Status lock(Connection& c, std::int64_t key) {
  auto rows = c.query("SELECT pg_advisory_xact_lock($1)", {key});
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

// The same, waited for without the connection's limits, which come back once it is taken: an
// audit record of an action already committed waits for its turn rather than being dropped, and
// a second import waits for the first's batch rather than failing (a review of the limits). The
// statements after it stay bounded (a second review: a LOCK TABLE audit_events held each
// appender, then the pool, for good).
core::Status lockWaiting(Connection& c, std::int64_t key) {
  auto limits =
      c.query("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')", {});
  if (!limits) return tl::unexpected(limits.error());
  const std::string lock_limit = limits->text(0, 0);
  const std::string statement_limit = limits->text(0, 1);
  if (auto ok = c.exec("SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0"); !ok)
    return ok;
  auto rows = c.query("SELECT pg_advisory_xact_lock($1)", {key});
  if (!rows) return tl::unexpected(rows.error());
  auto back = c.query(
      "SELECT set_config('lock_timeout', $1, true), "
      "set_config('statement_timeout', $2, true)",
      {lock_limit, statement_limit});
  if (!back) return tl::unexpected(back.error());
  return {};
}

// A change log (`seq`, `id_column`): the ids changed after `seq` and the newest seq read; with
// seq < 0 (a first call) only the newest seq, however long the log (read from its start, a node
// would hear of a change made now only after the 10,000-row pages of every earlier one). The
// horizon is read after the rows, in a later snapshot: a purge that took rows this read should
// have seen committed before it, so the horizon read then is past `seq` and the read says it
// missed them.
core::Result<ChangeLogRead> changeLog(Connection& c, const std::string& table,
                                      const std::string& id_column, std::int64_t seq) {
  ChangeLogRead out{{}, seq, false, false};
  if (seq >= 0) {
    auto rows = c.query("SELECT seq, " + id_column + " FROM " + table +
                            " WHERE seq > $1 ORDER BY seq LIMIT " + std::to_string(kChangeLogPage),
                        {seq});
    if (!rows) return tl::unexpected(rows.error());
    for (int i = 0; i < rows->size(); ++i) {
      out.seq = rows->int64(i, 0);
      out.ids.push_back(rows->int64(i, 1));
    }
    out.more = out.ids.size() == kChangeLogPage;
  } else {
    auto max = c.query("SELECT COALESCE(MAX(seq), 0) FROM " + table);
    if (!max) return tl::unexpected(max.error());
    out.seq = max->int64(0, 0);
  }
  auto horizon = c.query("SELECT purged_through FROM change_log_horizons WHERE log = $1", {table});
  if (!horizon) return tl::unexpected(horizon.error());
  if (!horizon->empty() && horizon->int64(0, 0) > seq) {
    out.missed = seq >= 0;  // a first read has nothing to miss
    out.seq = std::max(out.seq, horizon->int64(0, 0));
  }
  return out;
}

// Deletes the oldest rows of change log `table`, at most `limit`, of those up to the newest row
// recorded before `before`, and moves the log's horizon past them, in one transaction; how many.
// (A row stamped in the future cannot stop the purge; see the SQLite store.)
core::Result<std::int64_t> purgeLog(Pool& pool, const std::string& table, std::int64_t before,
                                    std::int64_t limit) {
  return pool.transaction<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
    auto cut = c.query("SELECT COALESCE(MAX(seq), -1) FROM (SELECT seq FROM " + table +
                           " WHERE seq <= (SELECT MAX(seq) FROM " + table +
                           " WHERE at < $1) ORDER BY seq LIMIT $2) AS oldest",
                       {before, limit});
    if (!cut) return tl::unexpected(cut.error());
    if (cut->int64(0, 0) < 0) return std::int64_t{0};
    const std::int64_t through = cut->int64(0, 0);
    auto gone = c.query("DELETE FROM " + table + " WHERE seq <= $1", {through});
    if (!gone) return tl::unexpected(gone.error());
    auto mark = c.query(
        "INSERT INTO change_log_horizons (log, purged_through) VALUES ($1, $2) ON CONFLICT (log) "
        "DO UPDATE SET purged_through = GREATEST(change_log_horizons.purged_through, "
        "EXCLUDED.purged_through)",
        {table, through});
    if (!mark) return tl::unexpected(mark.error());
    return gone->affected();
  });
}

constexpr std::string_view kUserSelect =
    "SELECT id, email, username, password_hash, role, is_active, created_at, tokens_valid_after, "
    "email_verified, mfa_enabled, address_moved FROM users ";

User readUser(const Rows& r, int i) {
  return User{r.int64(i, 0),   r.text(i, 1),    r.text(i, 2),    r.text(i, 3),
              r.text(i, 4),    r.boolean(i, 5), r.int64(i, 6),   r.int64(i, 7),
              r.boolean(i, 8), r.boolean(i, 9), r.boolean(i, 10)};
}

core::Result<std::optional<User>> oneUser(Connection& c, std::string_view where, Param p) {
  auto rows = c.query(std::string(kUserSelect) + std::string(where), {std::move(p)});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return std::optional<User>{};
  return std::optional<User>(readUser(*rows, 0));
}

core::Result<User> insertUser(Connection& c, const NewUser& u) {
  const std::int64_t now = nowSeconds();
  auto rows = c.query(
      "INSERT INTO users (email, username, password_hash, role, is_active, created_at, "
      "updated_at, email_verified) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING id",
      {u.email, u.username, u.password_hash, u.role, u.is_active, now, u.email_verified});
  if (!rows) return tl::unexpected(rows.error());
  return User{rows->int64(0, 0), u.email, u.username, u.password_hash, u.role,
              u.is_active,       now,     0,          u.email_verified};
}

// One imported user, inside the import's transaction: Skipped when the address has an account,
// UsernameTaken when the name has, else Created (with the source's creation time). A registration
// committing between the checks and the insert is met by ON CONFLICT (a failed INSERT would end
// the transaction in PostgreSQL, and the whole batch with it) and read again: the insert waited
// for it, so a new statement sees it.
core::Result<ImportOutcome> importOne(Connection& c, const ImportedUser& item) {
  const NewUser& u = item.user;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto by_email = oneUser(c, kByEmail, u.email);
    if (!by_email) return tl::unexpected(by_email.error());
    if (*by_email) return ImportOutcome{ImportOutcome::Kind::Skipped, (*by_email)->id};
    auto by_name = oneUser(c, kByUsername, u.username);
    if (!by_name) return tl::unexpected(by_name.error());
    if (*by_name) return ImportOutcome{ImportOutcome::Kind::UsernameTaken, (*by_name)->id};
    auto rows = c.query(
        "INSERT INTO users (email, username, password_hash, role, is_active, created_at, "
        "updated_at, email_verified) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT DO NOTHING RETURNING id",
        {u.email, u.username, u.password_hash, u.role, u.is_active, item.created_at, nowSeconds(),
         u.email_verified});
    if (!rows) return tl::unexpected(rows.error());
    if (!rows->empty()) return ImportOutcome{ImportOutcome::Kind::Created, rows->int64(0, 0)};
  }
  return makeError(Errc::AlreadyExists, "user");
}

// Inside a transaction: every emailed token of the user dropped. The account rule below (a pending
// email change a thief asked for must not survive the owner taking the account back), and that of
// an address change (other than its letter case): the reset and verification links sent to the
// old address never work again, even once it changes back, and a pending change asked for before
// must not undo an administrator's new address (found by an outside attack, reading the code).
core::Status dropEmailedTokens(Connection& c, std::int64_t id) {
  auto rows = c.query("DELETE FROM email_tokens WHERE user_id = $1", {id});
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

// Inside a transaction, after the caller's lock on the user's row (which a reset takes before it
// ends the sessions): whether `session_id` is `user_id`'s and not revoked, and, with
// `unexpired_at`, not expired then. FOR SHARE: a sign-out or an administrator's end of every
// session revokes the row without touching the user's, and is either waited for and seen, or
// waits for the caller (a review).
core::Result<bool> sessionLive(Connection& c, std::string_view session_id, std::int64_t user_id,
                               std::optional<std::int64_t> unexpired_at) {
  const std::int64_t now = unexpired_at.value_or(std::numeric_limits<std::int64_t>::min());
  auto live = c.query(
      "SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND NOT revoked AND expires_at > "
      "$3 FOR SHARE",
      {session_id, user_id, now});
  if (!live) return tl::unexpected(live.error());
  return !live->empty();
}

// Inside a transaction: earlier tokens voided, every session revoked, every emailed token dropped
// and, with `keys`, every API key; the account rule of a password change or reset and a
// deactivation.
// See TokenEffect::ResetPassword (defined with the MFA store).
core::Result<std::int64_t> dropOtherWaysIn(
    Connection& c, std::int64_t user_id,
    std::optional<std::string_view> keep_proving = std::nullopt);

core::Status endEverything(Connection& c, std::int64_t id, std::int64_t now, bool keys) {
  // Never back (setTokensValidAfter): a node whose clock runs behind revives nothing.
  auto users = c.query(
      "UPDATE users SET tokens_valid_after = GREATEST(tokens_valid_after, $1), updated_at = $1 "
      "WHERE id = $2",
      {now, id});
  if (!users) return tl::unexpected(users.error());
  auto sessions =
      c.query("UPDATE sessions SET revoked = TRUE WHERE user_id = $1 AND NOT revoked", {id});
  if (!sessions) return tl::unexpected(sessions.error());
  if (keys) {
    auto api_keys =
        c.query("UPDATE api_keys SET revoked = TRUE WHERE user_id = $1 AND NOT revoked", {id});
    if (!api_keys) return tl::unexpected(api_keys.error());
  }
  return dropEmailedTokens(c, id);
}

core::Status ensureAnotherActive(Connection& c, std::string_view role, std::int64_t except) {
  auto rows = c.query("SELECT COUNT(*) FROM users WHERE role = $1 AND is_active AND id <> $2",
                      {role, except});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->int64(0, 0) == 0)
    return makeError(Errc::FailedPrecondition, "last active " + std::string(role));
  return {};
}

// One DELETE (or other statement): how many rows it changed.
core::Result<std::int64_t> counted(Pool& pool, std::string_view sql,
                                   std::initializer_list<Param> params) {
  return pool.with<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
    auto rows = c.query(sql, params);
    if (!rows) return tl::unexpected(rows.error());
    return rows->affected();
  });
}

// Runs one statement on a pooled connection; NotFound (`what`) when `must_change` and no row
// changed.
// An idempotent write in a transaction of its own, so Pool::transaction retries it once on a new
// connection when the first was lost before it committed: ending a session stopped halfway on one
// lost connection (an outside attack: the tokens ended, the session and its refresh token lived).
core::Status runRetried(Pool& pool, std::string_view sql, std::initializer_list<Param> params) {
  return pool
      .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
        auto rows = c.query(sql, params);
        if (!rows) return tl::unexpected(rows.error());
        return std::monostate{};
      })
      .map([](std::monostate) {});
}

core::Status run(Pool& pool, std::string_view sql, std::initializer_list<Param> params,
                 const char* must_change = nullptr) {
  return pool
      .with<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
        auto rows = c.query(sql, params);
        if (!rows) return tl::unexpected(rows.error());
        if (must_change != nullptr && rows->affected() == 0)
          return makeError(Errc::NotFound, must_change);
        return std::monostate{};
      })
      .map([](std::monostate) {});
}

class PgUsers final : public UserStore {
 public:
  explicit PgUsers(Pool& pool) : pool_(pool) {}

  core::Result<User> create(const NewUser& u) override {
    return pool_.with<User>([&](Connection& c) { return insertUser(c, u); });
  }

  core::Result<std::optional<User>> findById(std::int64_t id) override {
    return pool_.with<std::optional<User>>(
        [&](Connection& c) { return oneUser(c, "WHERE id = $1", id); });
  }

  core::Result<std::optional<User>> findByEmail(std::string_view email) override {
    // A name the column cannot hold is nobody's (as on SQLite), not an error: a login with
    // invalid UTF-8 answered 500 (a review).
    if (!core::isStorableText(email)) return std::optional<User>{};
    return pool_.with<std::optional<User>>(
        [&](Connection& c) { return oneUser(c, kByEmail, email); });
  }

  core::Result<std::optional<User>> findByUsername(std::string_view username) override {
    if (!core::isStorableText(username)) return std::optional<User>{};
    return pool_.with<std::optional<User>>(
        [&](Connection& c) { return oneUser(c, kByUsername, username); });
  }

  core::Result<std::vector<User>> list(std::int64_t limit, std::int64_t offset) override {
    return pool_.with<std::vector<User>>([&](Connection& c) -> core::Result<std::vector<User>> {
      auto rows =
          c.query(std::string(kUserSelect) + "ORDER BY id LIMIT $1 OFFSET $2", {limit, offset});
      if (!rows) return tl::unexpected(rows.error());
      return allRows<User>(*rows, readUser);
    });
  }

  core::Result<std::vector<User>> search(std::string_view text, std::int64_t limit,
                                         std::int64_t offset) override {
    return pool_.with<std::vector<User>>([&](Connection& c) -> core::Result<std::vector<User>> {
      auto rows = c.query(
          std::string(kUserSelect) +
              "WHERE lower(email) LIKE lower($1) ESCAPE '\\' OR lower(username) LIKE lower($1) "
              "ESCAPE '\\' ORDER BY id LIMIT $2 OFFSET $3",
          {likePattern(text), limit, offset});
      if (!rows) return tl::unexpected(rows.error());
      return allRows<User>(*rows, readUser);
    });
  }

  core::Result<std::int64_t> count() override {
    return pool_.with<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
      auto rows = c.query("SELECT COUNT(*) FROM users");
      if (!rows) return tl::unexpected(rows.error());
      return rows->int64(0, 0);
    });
  }

  core::Result<UserChange> update(std::int64_t id, const UserPatch& patch,
                                  std::string_view protected_role) override {
    return pool_.transaction<UserChange>([&](Connection& c) -> core::Result<UserChange> {
      if (auto ok = lock(c, kLastAdminLock); !ok) return tl::unexpected(ok.error());
      auto current = oneUser(c, "WHERE id = $1 FOR UPDATE", id);
      if (!current) return tl::unexpected(current.error());
      if (!*current) return makeError(Errc::NotFound, "user");
      if (patch.role_is && (*current)->role != *patch.role_is)
        return makeError(Errc::Aborted, "the user's role changed since it was read");
      User u = **current;
      if (applyUserPatch(u, patch, protected_role)) {
        if (auto ok = ensureAnotherActive(c, protected_role, id); !ok)
          return tl::unexpected(ok.error());
      }
      auto rows = c.query(
          "UPDATE users SET email = $1, username = $2, is_active = $3, role = $4, updated_at = $5, "
          "email_verified = $6 WHERE id = $7",
          {u.email, u.username, u.is_active, u.role, nowSeconds(), u.email_verified, id});
      if (!rows) return tl::unexpected(rows.error());
      if (!sameAddress((*current)->email, u.email)) {
        if (auto ok = dropEmailedTokens(c, id); !ok) return tl::unexpected(ok.error());
        auto moved = c.query("UPDATE users SET address_moved = TRUE WHERE id = $1", {id});
        if (!moved) return tl::unexpected(moved.error());
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
    return pool_
        .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          if (auto ok = lock(c, kLastAdminLock); !ok) return tl::unexpected(ok.error());
          auto current = oneUser(c, "WHERE id = $1 FOR UPDATE", id);
          if (!current) return tl::unexpected(current.error());
          if (!*current) return makeError(Errc::NotFound, "user");
          if (role_is && (*current)->role != *role_is)
            return makeError(Errc::Aborted, "the user's role changed since it was read");
          if ((*current)->is_active && (*current)->role == protected_role) {
            if (auto ok = ensureAnotherActive(c, protected_role, id); !ok)
              return tl::unexpected(ok.error());
          }
          auto rows = c.query("DELETE FROM users WHERE id = $1", {id});
          if (!rows) return tl::unexpected(rows.error());
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

  core::Status replacePasswordHash(std::int64_t id, std::string_view expected,
                                   std::string_view hash) override {
    return run(
        pool_,
        "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash "
        "= $4",
        {hash, nowSeconds(), id, expected}, "user or hash");
  }

  core::Status changePassword(std::int64_t id, std::string_view hash, std::int64_t now,
                              PasswordEnds ends) override {
    return pool_
        .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          // The user's row locked first (FOR UPDATE conflicts with the key-share lock a new
          // session's foreign key takes): a sign-in or grant writing its session meanwhile waits
          // for this to commit, then reads the user again and sees it (Sessions::open,
          // op::Provider::grantOutlivedItsSignIn). An UPDATE alone takes a lock that does not.
          auto locked = c.query("SELECT role FROM users WHERE id = $1 FOR UPDATE", {id});
          if (!locked) return tl::unexpected(locked.error());
          if (locked->empty()) return makeError(Errc::NotFound, "user");
          if (ends.role_is && locked->text(0, 0) != *ends.role_is)
            return makeError(Errc::Aborted, "the user's role changed since it was read");
          auto rows =
              c.query("UPDATE users SET password_hash = $1 WHERE id = $2 RETURNING id", {hash, id});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return makeError(Errc::NotFound, "user");
          if (auto ok = endEverything(c, id, now, ends.api_keys); !ok)
            return tl::unexpected(ok.error());
          if (ends.other_ways_in) {
            if (auto ok = dropOtherWaysIn(c, id); !ok) return tl::unexpected(ok.error());
          }
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

  core::Status setTokensValidAfter(std::int64_t id, std::int64_t when,
                                   std::optional<std::string_view> role_is) override {
    if (!role_is)
      return run(
          pool_,
          "UPDATE users SET tokens_valid_after = GREATEST(tokens_valid_after, $1) WHERE id = $2",
          {when, id});
    auto moved = run(pool_,
                     "UPDATE users SET tokens_valid_after = GREATEST(tokens_valid_after, $1) WHERE "
                     "id = $2 AND role = $3",
                     {when, id, *role_is}, "the user as judged");
    if (!moved && moved.error().code == Errc::NotFound)
      return makeError(Errc::Aborted, "the user's role changed since it was read, or it went");
    return moved;
  }

  core::Result<std::vector<ImportOutcome>> importUsers(const std::vector<ImportedUser>& users,
                                                       std::string_view source) override {
    return pool_.transaction<std::vector<ImportOutcome>>(
        [&](Connection& c) -> core::Result<std::vector<ImportOutcome>> {
          // Imports run one at a time across nodes, as SQLite's BEGIN IMMEDIATE makes them: a
          // legacy subject not yet recorded has no row to lock, and two imports deciding on it at
          // once both inserted it, one batch failing whole (found by a review of the stores).
          if (auto locked = lockWaiting(c, kImportLock); !locked)
            return tl::unexpected(locked.error());
          std::vector<ImportOutcome> out;
          for (const ImportedUser& item : users) {
            auto outcome = importOne(c, item);
            if (!outcome) return tl::unexpected(outcome.error());
            if (!item.legacy_subject.empty()) {
              auto mapped =
                  c.query("SELECT user_id FROM legacy_subjects WHERE source = $1 AND subject = $2",
                          {source, item.legacy_subject});
              if (!mapped) return tl::unexpected(mapped.error());
              const auto holder =
                  mapped->empty() ? std::nullopt : std::optional(mapped->int64(0, 0));
              const SubjectChange change = legacySubjectChange(holder, *outcome);
              if (change == SubjectChange::Forget) {
                auto drop =
                    c.query("DELETE FROM legacy_subjects WHERE source = $1 AND subject = $2",
                            {source, item.legacy_subject});
                if (!drop) return tl::unexpected(drop.error());
              } else if (change == SubjectChange::Remember) {
                auto add = c.query(
                    "INSERT INTO legacy_subjects (source, subject, user_id) VALUES ($1, $2, $3)",
                    {source, item.legacy_subject, outcome->user_id});
                if (!add) return tl::unexpected(add.error());
              }
            }
            out.push_back(*outcome);
          }
          return out;
        });
  }

  core::Result<std::optional<std::int64_t>> findByLegacySubject(std::string_view source,
                                                                std::string_view subject) override {
    return pool_.with<std::optional<std::int64_t>>(
        [&](Connection& c) -> core::Result<std::optional<std::int64_t>> {
          auto rows =
              c.query("SELECT user_id FROM legacy_subjects WHERE source = $1 AND subject = $2",
                      {source, subject});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<std::int64_t>{};
          return std::optional<std::int64_t>(rows->int64(0, 0));
        });
  }

  core::Result<ChangeLogRead> changesSince(std::int64_t seq) override {
    return pool_.with<ChangeLogRead>(
        [&](Connection& c) { return changeLog(c, "user_changes", "user_id", seq); });
  }

  core::Result<std::int64_t> purgeChanges(std::int64_t before, std::int64_t limit) override {
    return purgeLog(pool_, "user_changes", before, limit);
  }

 private:
  Pool& pool_;
};

constexpr std::string_view kSessionSelect =
    "SELECT id, user_id, refresh_jti, user_agent, ip, created_at, last_used_at, expires_at, "
    "revoked, previous_jti, rotated_at FROM sessions ";

Session readSession(const Rows& r, int i) {
  return Session{r.text(i, 0),    r.int64(i, 1), r.text(i, 2),  r.text(i, 3),
                 r.text(i, 4),    r.int64(i, 5), r.int64(i, 6), r.int64(i, 7),
                 r.boolean(i, 8), r.text(i, 9),  r.int64(i, 10)};
}

// A revocation-list entry written in the caller's transaction (a session's on refresh-token
// reuse, a deleted client's), kept until the later of its ends.
core::Status holdRevoked(Connection& c, std::string_view key, std::int64_t until) {
  auto held = c.query(
      "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) "
      "ON CONFLICT (jti) DO UPDATE SET expires_at = GREATEST(revoked_tokens.expires_at, "
      "EXCLUDED.expires_at)",
      {key, until});
  if (!held) return tl::unexpected(held.error());
  return {};
}

class PgSessions final : public SessionStore {
 public:
  explicit PgSessions(Pool& pool) : pool_(pool) {}

  core::Status create(const Session& s) override {
    return run(pool_,
               "INSERT INTO sessions (id, user_id, refresh_jti, user_agent, ip, created_at, "
               "last_used_at, expires_at, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE)",
               {s.id, s.user_id, s.refresh_jti, s.user_agent, s.ip, s.created_at, s.last_used_at,
                s.expires_at});
  }

  core::Result<RotateOutcome> rotate(std::string_view id, std::string_view presented,
                                     std::string_view next, std::int64_t now,
                                     std::int64_t expires_at, std::int64_t grace,
                                     std::int64_t tokens_until) override {
    return pool_.transaction<RotateOutcome>([&](Connection& c) -> core::Result<RotateOutcome> {
      // Compare-and-set: only the current jti of a live session moves forward. Under READ
      // COMMITTED a concurrent UPDATE of the row re-checks the WHERE clause after the first
      // commits, so exactly one of two racing rotations (on any node) wins.
      auto cas = c.query(
          "UPDATE sessions SET previous_jti = refresh_jti, rotated_at = $1, refresh_jti = $2, "
          "last_used_at = $1, expires_at = $3 "
          "WHERE id = $4 AND refresh_jti = $5 AND NOT revoked AND expires_at > $1",
          {now, next, expires_at, id, presented});
      if (!cas) return tl::unexpected(cas.error());
      if (cas->affected() == 1) return RotateOutcome::Rotated;
      if (grace > 0) {
        auto recent = c.query(
            "SELECT COUNT(*) FROM sessions WHERE id = $1 AND previous_jti = $2 AND NOT revoked "
            "AND rotated_at >= $3",
            {id, presented, now - grace});
        if (!recent) return tl::unexpected(recent.error());
        if (recent->int64(0, 0) > 0) return RotateOutcome::GraceRace;
      }
      // Not current: an older token of a live family is a replay (RFC 9700 §4.14.2).
      auto revoke = c.query(
          "UPDATE sessions SET revoked = TRUE WHERE id = $1 AND NOT revoked AND expires_at > $2",
          {id, now});
      if (!revoke) return tl::unexpected(revoke.error());
      if (revoke->affected() != 1) return RotateOutcome::Inactive;
      if (auto ok = holdRevoked(c, sessionRevocationKey(id), tokens_until); !ok)
        return tl::unexpected(ok.error());
      return RotateOutcome::Reused;
    });
  }

  core::Status touch(std::string_view id, std::int64_t now) override {
    return run(pool_, "UPDATE sessions SET last_used_at = $1 WHERE id = $2", {now, id});
  }

  core::Result<std::optional<Session>> find(std::string_view id) override {
    return pool_.with<std::optional<Session>>(
        [&](Connection& c) -> core::Result<std::optional<Session>> {
          auto rows = c.query(std::string(kSessionSelect) + "WHERE id = $1", {id});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<Session>{};
          return std::optional<Session>(readSession(*rows, 0));
        });
  }

  core::Result<std::vector<Session>> listForUser(std::int64_t user_id, std::int64_t now) override {
    return pool_.with<std::vector<Session>>(
        [&](Connection& c) -> core::Result<std::vector<Session>> {
          auto rows = c.query(std::string(kSessionSelect) +
                                  "WHERE user_id = $1 AND NOT revoked AND expires_at > $2 "
                                  "ORDER BY created_at DESC, id",
                              {user_id, now});
          if (!rows) return tl::unexpected(rows.error());
          return allRows<Session>(*rows, readSession);
        });
  }

  core::Status revoke(std::string_view id) override {
    return runRetried(pool_, "UPDATE sessions SET revoked = TRUE WHERE id = $1", {id});
  }

  core::Status forgetEnded(std::string_view id) override {
    return runRetried(pool_, "DELETE FROM sessions WHERE id = $1 AND revoked", {id});
  }

  core::Status revokeAllForUser(std::int64_t user_id) override {
    return runRetried(
        pool_, "UPDATE sessions SET revoked = TRUE WHERE user_id = $1 AND NOT revoked", {user_id});
  }

  core::Result<std::int64_t> purgeEnded(std::int64_t before, std::int64_t limit,
                                        bool keep_traded) override {
    // SKIP LOCKED: nodes purging at once take different rows instead of waiting for (or
    // deadlocking on) each other's.
    return counted(pool_,
                   std::string("DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE ") +
                       (keep_traded ? "id NOT LIKE 'legacy-%' AND " : "") +
                       "(expires_at < $1 OR (revoked AND last_used_at < $1)) LIMIT $2 FOR UPDATE "
                       "SKIP LOCKED)",
                   {before, limit});
  }

 private:
  Pool& pool_;
};

class PgRevocations final : public RevocationStore {
 public:
  explicit PgRevocations(Pool& pool) : pool_(pool) {}

  core::Status add(std::string_view jti, std::int64_t expires_at) override {
    return run(pool_,
               "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) "
               "ON CONFLICT (jti) DO NOTHING",
               {jti, expires_at});
  }

  core::Result<std::vector<std::pair<std::string, std::int64_t>>> active(
      std::int64_t now) override {
    using Out = std::vector<std::pair<std::string, std::int64_t>>;
    return pool_.with<Out>([&](Connection& c) -> core::Result<Out> {
      auto rows =
          c.query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1", {now});
      if (!rows) return tl::unexpected(rows.error());
      Out out;
      for (int i = 0; i < rows->size(); ++i) out.emplace_back(rows->text(i, 0), rows->int64(i, 1));
      return out;
    });
  }

  core::Status purgeExpired(std::int64_t now) override {
    // A session's entry leaves only with the session ended for good: one whose own end was never
    // written (a failure after its entry) is ended here, so it never lives on past its entry.
    return pool_
        .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          auto ended = c.query(
              "UPDATE sessions SET revoked = TRUE WHERE NOT revoked AND id IN (SELECT substr(jti, "
              "5) FROM revoked_tokens WHERE jti LIKE 'sid:%' AND expires_at <= $1)",
              {now});
          if (!ended) return tl::unexpected(ended.error());
          auto gone = c.query("DELETE FROM revoked_tokens WHERE expires_at <= $1", {now});
          if (!gone) return tl::unexpected(gone.error());
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

 private:
  Pool& pool_;
};

constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

constexpr std::string_view kAuditSelect =
    "SELECT id, time_ms, type, request_id, actor_id, subject_id, client_ip, user_agent, detail, "
    "prev_hash, hash, mac FROM audit_events ";

AuditRecord readAudit(const Rows& r, int i) {
  AuditRecord a;
  a.id = r.int64(i, 0);
  a.time_ms = r.int64(i, 1);
  a.type = r.text(i, 2);
  a.request_id = r.text(i, 3);
  if (!r.isNull(i, 4)) a.actor_id = r.int64(i, 4);
  if (!r.isNull(i, 5)) a.subject_id = r.int64(i, 5);
  a.client_ip = r.text(i, 6);
  a.user_agent = r.text(i, 7);
  a.detail = r.text(i, 8);
  a.prev_hash = r.text(i, 9);
  a.hash = r.text(i, 10);
  a.mac = r.text(i, 11);
  return a;
}

class PgAudit final : public AuditStore {
 public:
  explicit PgAudit(Pool& pool) : pool_(pool) {}

  core::Result<AuditRecord> append(AuditRecord r,
                                   const std::function<core::Status(AuditRecord&)>& seal) override {
    return pool_.transaction<AuditRecord>([&](Connection& c) -> core::Result<AuditRecord> {
      // Nodes append one at a time, so the chain never forks.
      // The table first, under the connection's limits: a table locked by hand (LOCK TABLE,
      // VACUUM FULL) fails each appender on its own after lock_timeout, none of them queued
      // behind the turn (a fourth review: one failing every 5 s held every connection). The
      // appenders' own ROW EXCLUSIVE never conflict with each other.
      if (auto ok = c.exec("LOCK TABLE audit_events IN ROW EXCLUSIVE MODE"); !ok)
        return tl::unexpected(ok.error());
      if (auto ok = lockWaiting(c, kAuditLock); !ok) return tl::unexpected(ok.error());
      auto last = c.query("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1");
      if (!last) return tl::unexpected(last.error());
      r.id = last->empty() ? 1 : last->int64(0, 0) + 1;
      r.prev_hash = last->empty() ? std::string(kGenesisHash) : last->text(0, 1);
      if (auto sealed = seal(r); !sealed) return tl::unexpected(sealed.error());
      auto ins = c.query(
          "INSERT INTO audit_events (id, time_ms, type, request_id, actor_id, subject_id, "
          "client_ip, user_agent, detail, prev_hash, hash, mac) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
          {r.id, r.time_ms, r.type, r.request_id, r.actor_id, r.subject_id, r.client_ip,
           r.user_agent, r.detail, r.prev_hash, r.hash, r.mac});
      if (!ins) return tl::unexpected(ins.error());
      return r;
    });
  }

  core::Result<std::vector<AuditRecord>> query(const AuditQuery& q) override {
    return pool_.with<std::vector<AuditRecord>>(
        [&](Connection& c) -> core::Result<std::vector<AuditRecord>> {
          // One prepared statement for each set of filters given (at most sixteen).
          static constexpr std::array<const char*, 5> kTyped{"", "$1::text", "$2::bigint",
                                                             "$3::bigint", "$4::bigint"};
          auto rows =
              c.query(std::string(kAuditSelect) +
                          auditWhere(q, [](int n) { return kTyped[static_cast<std::size_t>(n)]; }) +
                          " ORDER BY id DESC LIMIT $5",
                      {q.type ? Param(*q.type) : Param(std::nullopt), q.user_id, q.since_ms,
                       q.before_id, q.limit});
          if (!rows) return tl::unexpected(rows.error());
          return allRows<AuditRecord>(*rows, readAudit);
        });
  }

  core::Status scan(const std::function<bool(const AuditRecord&)>& visit) override {
    return scanAuditPages(
        [this](std::int64_t after) {
          return pool_.with<std::vector<AuditRecord>>(
              [after](Connection& c) -> core::Result<std::vector<AuditRecord>> {
                auto rows = c.query(
                    std::string(kAuditSelect) + "WHERE id > $1 ORDER BY id LIMIT 1000", {after});
                if (!rows) return tl::unexpected(rows.error());
                return allRows<AuditRecord>(*rows, readAudit);
              });
        },
        visit);
  }

  core::Result<std::int64_t> countSince(std::string_view type, std::int64_t since_ms) override {
    return scalar("SELECT COUNT(*) FROM audit_events WHERE type = $1 AND time_ms >= $2", type,
                  since_ms);
  }

  core::Result<std::int64_t> distinctSubjectsSince(std::string_view type,
                                                   std::int64_t since_ms) override {
    return scalar(
        "SELECT COUNT(DISTINCT subject_id) FROM audit_events WHERE type = $1 AND time_ms >= $2",
        type, since_ms);
  }

  core::Result<std::vector<DailyCount>> perDaySince(std::string_view type,
                                                    std::int64_t since_ms) override {
    return pool_.with<std::vector<DailyCount>>(
        [&](Connection& c) -> core::Result<std::vector<DailyCount>> {
          auto rows = c.query(
              "SELECT to_char(to_timestamp(time_ms / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS "
              "day, COUNT(*) FROM audit_events WHERE type = $1 AND time_ms >= $2 "
              "GROUP BY day ORDER BY day",
              {type, since_ms});
          if (!rows) return tl::unexpected(rows.error());
          std::vector<DailyCount> out;
          for (int i = 0; i < rows->size(); ++i)
            out.push_back({rows->text(i, 0), rows->int64(i, 1)});
          return out;
        });
  }

 private:
  core::Result<std::int64_t> scalar(std::string_view sql, std::string_view type,
                                    std::int64_t since_ms) {
    return pool_.with<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
      auto rows = c.query(sql, {type, since_ms});
      if (!rows) return tl::unexpected(rows.error());
      return rows->int64(0, 0);
    });
  }

  Pool& pool_;
};

constexpr std::string_view kApiKeySelect =
    "SELECT id, user_id, name, public_id, secret_hash, scopes, created_at, expires_at, "
    "last_used_at, revoked FROM api_keys ";

ApiKey readApiKey(const Rows& r, int i) {
  ApiKey k;
  k.id = r.int64(i, 0);
  k.user_id = r.int64(i, 1);
  k.name = r.text(i, 2);
  k.public_id = r.text(i, 3);
  k.secret_hash = r.text(i, 4);
  k.scopes = splitScopes(r.text(i, 5));
  k.created_at = r.int64(i, 6);
  if (!r.isNull(i, 7)) k.expires_at = r.int64(i, 7);
  if (!r.isNull(i, 8)) k.last_used_at = r.int64(i, 8);
  k.revoked = r.boolean(i, 9);
  return k;
}

class PgApiKeys final : public ApiKeyStore {
 public:
  explicit PgApiKeys(Pool& pool) : pool_(pool) {}

  core::Result<ApiKey> create(ApiKey k, std::size_t max_live,
                              std::optional<std::string_view> session_id) override {
    return pool_.transaction<ApiKey>([&](Connection& c) -> core::Result<ApiKey> {
      // The owner's row lock serialises their creations from the count to the commit (NO KEY:
      // rows that only reference the user, such as sessions, are not held up).
      auto owner =
          c.query("SELECT is_active FROM users WHERE id = $1 FOR NO KEY UPDATE", {k.user_id});
      if (!owner) return tl::unexpected(owner.error());
      if (owner->size() == 0) return makeError(Errc::NotFound, "user");
      // A deactivation ends keys in its transaction: one made after it would outlive it.
      if (!owner->boolean(0, 0)) return makeError(Errc::FailedPrecondition, "owner inactive");
      if (session_id) {
        auto alive = sessionLive(c, *session_id, k.user_id, std::nullopt);
        if (!alive) return tl::unexpected(alive.error());
        if (!*alive) return makeError(Errc::Aborted, "the asking session ended");
      }
      auto live = c.query(
          "SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND NOT revoked AND "
          "(expires_at IS NULL OR expires_at > $2)",
          {k.user_id, k.created_at});
      if (!live) return tl::unexpected(live.error());
      if (static_cast<std::uint64_t>(live->int64(0, 0)) >= max_live)
        return makeError(Errc::ResourceExhausted, "the owner holds the most API keys");
      auto rows = c.query(
          "INSERT INTO api_keys (user_id, name, public_id, secret_hash, scopes, created_at, "
          "expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
          {k.user_id, k.name, k.public_id, k.secret_hash, joinScopes(k.scopes), k.created_at,
           k.expires_at});
      if (!rows) return tl::unexpected(rows.error());
      k.id = rows->int64(0, 0);
      return k;
    });
  }

  core::Result<std::optional<ApiKey>> findByPublicId(std::string_view public_id) override {
    return one("WHERE public_id = $1", public_id);
  }

  core::Result<std::optional<ApiKey>> findById(std::int64_t id) override {
    return one("WHERE id = $1", id);
  }

  core::Result<std::vector<ApiKey>> listForUser(std::int64_t user_id) override {
    return pool_.with<std::vector<ApiKey>>([&](Connection& c) -> core::Result<std::vector<ApiKey>> {
      auto rows = c.query(
          std::string(kApiKeySelect) + "WHERE user_id = $1 AND NOT revoked ORDER BY id DESC",
          {user_id});
      if (!rows) return tl::unexpected(rows.error());
      return allRows<ApiKey>(*rows, readApiKey);
    });
  }

  core::Status revoke(std::int64_t id, std::int64_t user_id) override {
    return run(pool_,
               "UPDATE api_keys SET revoked = TRUE WHERE id = $1 AND user_id = $2 AND NOT revoked",
               {id, user_id}, "api key");
  }

  core::Status touch(std::int64_t id, std::int64_t when) override {
    return run(pool_, "UPDATE api_keys SET last_used_at = $1 WHERE id = $2", {when, id});
  }

  core::Result<std::int64_t> purgeDead(std::int64_t before, std::int64_t limit) override {
    return counted(
        pool_,
        "DELETE FROM api_keys WHERE id IN (SELECT id FROM api_keys WHERE expires_at < $1 "
        "OR (revoked AND COALESCE(last_used_at, created_at) < $1) LIMIT $2 FOR UPDATE SKIP "
        "LOCKED)",
        {before, limit});
  }

  core::Result<ChangeLogRead> changesSince(std::int64_t seq) override {
    return pool_.with<ChangeLogRead>(
        [&](Connection& c) { return changeLog(c, "api_key_changes", "key_id", seq); });
  }

  core::Result<std::int64_t> purgeChanges(std::int64_t before, std::int64_t limit) override {
    return purgeLog(pool_, "api_key_changes", before, limit);
  }

 private:
  core::Result<std::optional<ApiKey>> one(std::string_view where, Param p) {
    return pool_.with<std::optional<ApiKey>>(
        [&](Connection& c) -> core::Result<std::optional<ApiKey>> {
          auto rows = c.query(std::string(kApiKeySelect) + std::string(where), {p});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<ApiKey>{};
          return std::optional<ApiKey>(readApiKey(*rows, 0));
        });
  }

  Pool& pool_;
};

constexpr std::string_view kIdentitySelect =
    "SELECT id, user_id, provider, issuer, subject, email, created_at, verified_email FROM "
    "identities ";

Identity readIdentity(const Rows& r, int i) {
  return Identity{r.int64(i, 0), r.int64(i, 1), r.text(i, 2),  r.text(i, 3),
                  r.text(i, 4),  r.text(i, 5),  r.int64(i, 6), r.text(i, 7)};
}

core::Result<Identity> insertIdentity(Connection& c, Identity i) {
  auto rows = c.query(
      "INSERT INTO identities (user_id, provider, issuer, subject, email, created_at, "
      "verified_email) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
      {i.user_id, i.provider, i.issuer, i.subject, i.email, i.created_at, i.verified_email});
  if (!rows) return tl::unexpected(rows.error());
  i.id = rows->int64(0, 0);
  // Linked again (anywhere): no longer a removed one.
  auto forget = c.query("DELETE FROM removed_identities WHERE issuer = $1 AND subject = $2",
                        {i.issuer, i.subject});
  if (!forget) return tl::unexpected(forget.error());
  return i;
}

class PgIdentities final : public IdentityStore {
 public:
  explicit PgIdentities(Pool& pool) : pool_(pool) {}

  core::Result<Identity> create(Identity identity) override {
    return pool_.transaction<Identity>([&](Connection& c) { return insertIdentity(c, identity); });
  }

  core::Result<std::optional<Identity>> find(std::string_view issuer,
                                             std::string_view subject) override {
    return pool_.with<std::optional<Identity>>(
        [&](Connection& c) -> core::Result<std::optional<Identity>> {
          auto rows = c.query(std::string(kIdentitySelect) + "WHERE issuer = $1 AND subject = $2",
                              {issuer, subject});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<Identity>{};
          return std::optional<Identity>(readIdentity(*rows, 0));
        });
  }

  core::Result<std::vector<Identity>> listForUser(std::int64_t user_id) override {
    return pool_.with<std::vector<Identity>>(
        [&](Connection& c) -> core::Result<std::vector<Identity>> {
          auto rows =
              c.query(std::string(kIdentitySelect) + "WHERE user_id = $1 ORDER BY id", {user_id});
          if (!rows) return tl::unexpected(rows.error());
          return allRows<Identity>(*rows, readIdentity);
        });
  }

  core::Result<std::optional<std::int64_t>> removedFrom(std::string_view issuer,
                                                        std::string_view subject) override {
    return pool_.with<std::optional<std::int64_t>>(
        [&](Connection& c) -> core::Result<std::optional<std::int64_t>> {
          auto rows = c.query(
              "SELECT r.user_id FROM removed_identities r JOIN users u ON u.id = r.user_id WHERE "
              "r.issuer = $1 AND r.subject = $2 AND u.is_active AND r.removed_at > "
              "extract(epoch FROM now())::bigint - $3",
              {issuer, subject, kRemovedIdentityDays * 86400});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<std::int64_t>{};
          return std::optional<std::int64_t>(rows->int64(0, 0));
        });
  }

  core::Status noteVerifiedEmail(std::int64_t id, std::string_view verified_email) override {
    return run(pool_,
               "UPDATE identities SET verified_email = $2 WHERE id = $1 AND verified_email <> $2",
               {id, verified_email});
  }

  core::Status removeUnlessLast(std::int64_t id, std::int64_t user_id) override {
    return pool_
        .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          // The user's row lock serialises concurrent removals of their identities.
          auto user =
              c.query("SELECT password_hash <> '' FROM users WHERE id = $1 FOR UPDATE", {user_id});
          if (!user) return tl::unexpected(user.error());
          auto mine = c.query("SELECT COUNT(*) FROM identities WHERE id = $1 AND user_id = $2",
                              {id, user_id});
          if (!mine) return tl::unexpected(mine.error());
          if (user->empty() || mine->int64(0, 0) == 0) return makeError(Errc::NotFound, "identity");
          auto others = c.query("SELECT COUNT(*) FROM identities WHERE user_id = $1 AND id <> $2",
                                {user_id, id});
          if (!others) return tl::unexpected(others.error());
          if (others->int64(0, 0) == 0 && !user->boolean(0, 0))
            return makeError(Errc::FailedPrecondition, "last way to sign in");
          auto kept = c.query(
              "INSERT INTO unlinked_identities (user_id, issuer, subject, unlinked_at) "
              "SELECT user_id, issuer, subject, extract(epoch FROM now())::bigint FROM identities "
              "WHERE id = $1 ON CONFLICT DO NOTHING",
              {id});
          if (!kept) return tl::unexpected(kept.error());
          auto forget = c.query(
              "DELETE FROM removed_identities r USING identities i WHERE i.id = $1 AND r.issuer = "
              "i.issuer AND r.subject = i.subject",
              {id});
          if (!forget) return tl::unexpected(forget.error());
          auto del = c.query("DELETE FROM identities WHERE id = $1", {id});
          if (!del) return tl::unexpected(del.error());
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

  core::Result<bool> unlinkedBy(std::int64_t user_id, std::string_view issuer,
                                std::string_view subject) override {
    return pool_.with<bool>([&](Connection& c) -> core::Result<bool> {
      auto found = c.query(
          "SELECT COUNT(*) FROM unlinked_identities WHERE user_id = $1 AND issuer = $2 AND "
          "subject = $3",
          {user_id, issuer, subject});
      if (!found) return tl::unexpected(found.error());
      return found->int64(0, 0) > 0;
    });
  }

  core::Result<Identity> linkByOwner(Identity identity, std::int64_t most,
                                     std::string_view session_id) override {
    return pool_.transaction<Identity>([&](Connection& c) -> core::Result<Identity> {
      // The user's row lock serialises the count with concurrent links and removals, and with a
      // reset (whose write to the row comes first): the session is read after it.
      auto user = c.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", {identity.user_id});
      if (!user) return tl::unexpected(user.error());
      if (user->empty()) return makeError(Errc::NotFound, "user");
      auto live = sessionLive(c, session_id, identity.user_id, identity.created_at);
      if (!live) return tl::unexpected(live.error());
      if (!*live) return makeError(Errc::FailedPrecondition, "session");
      auto held = c.query("SELECT COUNT(*) FROM identities WHERE user_id = $1", {identity.user_id});
      if (!held) return tl::unexpected(held.error());
      if (held->int64(0, 0) >= most) return makeError(Errc::ResourceExhausted, "identities");
      auto linked = insertIdentity(c, identity);
      if (!linked) return linked;
      auto forget = c.query(
          "DELETE FROM unlinked_identities WHERE user_id = $1 AND issuer = $2 AND subject = $3",
          {identity.user_id, identity.issuer, identity.subject});
      if (!forget) return tl::unexpected(forget.error());
      return linked;
    });
  }

  core::Result<User> createUserWithIdentity(const NewUser& u, Identity identity) override {
    return pool_.transaction<User>([&](Connection& c) -> core::Result<User> {
      auto user = insertUser(c, u);
      if (!user) return user;
      identity.user_id = user->id;
      identity.created_at = user->created_at;
      if (auto ok = insertIdentity(c, identity); !ok) return tl::unexpected(ok.error());
      return user;
    });
  }

 private:
  Pool& pool_;
};

constexpr std::string_view kFactorSelect =
    "SELECT id, user_id, type, name, secret, confirmed, created_at, last_used_at, last_step, "
    "COALESCE(credential_id, ''), passkey FROM mfa_factors ";

MfaFactor readFactor(const Rows& r, int i) {
  MfaFactor f{r.int64(i, 0), r.int64(i, 1),   r.text(i, 2),  r.text(i, 3),
              r.text(i, 4),  r.boolean(i, 5), r.int64(i, 6), {},
              r.int64(i, 8), r.text(i, 9),    r.text(i, 10)};
  if (r.int64(i, 7) != 0) f.last_used_at = r.int64(i, 7);
  return f;
}

// The user's recovery codes become `hashes`, and their codes' count starts again (new codes; a
// count an older node left during a roll-out never locks a first factor's: a review).
core::Status insertCodes(Connection& c, std::int64_t user_id,
                         const std::vector<std::string>& hashes) {
  for (const char* sql : {"DELETE FROM recovery_codes WHERE user_id = $1",
                          "DELETE FROM mfa_code_attempts WHERE user_id = $1"}) {
    if (auto del = c.query(sql, {user_id}); !del) return tl::unexpected(del.error());
  }
  for (const auto& h : hashes) {
    auto ins =
        c.query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)", {user_id, h});
    if (!ins) return tl::unexpected(ins.error());
  }
  return {};
}

// MfaStore::countCodeAttempt in one statement: a row that already holds `threshold` is left as it
// is and returns nothing.
constexpr const char* kCountCodeAttempt =
    "INSERT INTO mfa_code_attempts (user_id, attempts) VALUES ($1, 1) ON CONFLICT (user_id) DO "
    "UPDATE SET attempts = mfa_code_attempts.attempts + 1 WHERE mfa_code_attempts.attempts < $2 "
    "RETURNING attempts";

// The user's mfa_enabled follows their confirmed factors; with none left the recovery codes go,
// and the codes' count (a review: a new authenticator app found its codes locked by the old
// one's count).
core::Status settleMfa(Connection& c, std::int64_t user_id) {
  auto set = c.query(
      "UPDATE users SET mfa_enabled = x.has FROM (SELECT EXISTS (SELECT 1 FROM mfa_factors WHERE "
      "user_id = $1 AND confirmed) AS has) x WHERE id = $1 AND mfa_enabled <> x.has",
      {user_id});
  if (!set) return tl::unexpected(set.error());
  for (const char* sql :
       {"DELETE FROM recovery_codes WHERE user_id = $1 AND NOT EXISTS (SELECT 1 FROM mfa_factors "
        "WHERE user_id = $1 AND confirmed)",
        "DELETE FROM mfa_code_attempts WHERE user_id = $1 AND NOT EXISTS (SELECT 1 FROM "
        "mfa_factors WHERE user_id = $1 AND confirmed)"}) {
    if (auto gone = c.query(sql, {user_id}); !gone) return tl::unexpected(gone.error());
  }
  return {};
}

// Removes the user's identities, or with `keep_proving` only those whose provider did not verify
// that address (lower() under "C" folds ASCII letters alone, as sameAddress), each remembered as
// removed from the account and as unlinked from it (IdentityStore::removedFrom, unlinkedBy). How
// many went (the deleted rows, whatever the remembering wrote).
core::Result<std::int64_t> removeIdentities(Connection& c, std::int64_t user_id,
                                            std::optional<std::string_view> keep_proving) {
  const std::string sql =
      std::string("WITH gone AS (DELETE FROM identities WHERE user_id = $1") +
      (keep_proving ? " AND lower(verified_email COLLATE \"C\") <> lower($2::text COLLATE \"C\")"
                    : "") +
      " RETURNING issuer, subject, user_id), kept AS (INSERT INTO removed_identities (issuer, "
      "subject, user_id, removed_at) SELECT issuer, subject, user_id, extract(epoch FROM "
      "now())::bigint FROM gone ON CONFLICT (issuer, subject) DO UPDATE SET user_id = "
      "EXCLUDED.user_id, removed_at = EXCLUDED.removed_at), unlinked AS (INSERT INTO "
      "unlinked_identities (user_id, issuer, subject, unlinked_at) SELECT user_id, issuer, "
      "subject, extract(epoch FROM now())::bigint FROM gone ON CONFLICT DO NOTHING) SELECT issuer "
      "FROM gone";
  auto gone = keep_proving ? c.query(sql, {user_id, *keep_proving}) : c.query(sql, {user_id});
  if (!gone) return tl::unexpected(gone.error());
  return static_cast<std::int64_t>(gone->size());
}

core::Status keepPasskeysAsSecondFactorsOnly(Connection& c, std::int64_t user_id) {
  auto demoted = c.query(
      "UPDATE mfa_factors SET passkey = (passkey::jsonb || '{\"second_factor_only\": "
      "true}'::jsonb)::text WHERE user_id = $1 AND type = 'webauthn'",
      {user_id});
  if (!demoted) return tl::unexpected(demoted.error());
  return {};
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

// Serialises a user's factor changes (the row lock on the user).
core::Status lockUser(Connection& c, std::int64_t user_id) {
  auto rows = c.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", {user_id});
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

class PgMfa final : public MfaStore {
 public:
  explicit PgMfa(Pool& pool) : pool_(pool) {}

  core::Result<MfaFactor> create(MfaFactor f, std::int64_t max_factors) override {
    return pool_.transaction<MfaFactor>([&](Connection& c) -> core::Result<MfaFactor> {
      if (auto ok = lockUser(c, f.user_id); !ok) return tl::unexpected(ok.error());
      auto drop =
          c.query("DELETE FROM mfa_factors WHERE user_id = $1 AND NOT confirmed", {f.user_id});
      if (!drop) return tl::unexpected(drop.error());
      auto count = c.query("SELECT COUNT(*) FROM mfa_factors WHERE user_id = $1", {f.user_id});
      if (!count) return tl::unexpected(count.error());
      if (count->int64(0, 0) >= max_factors) return makeError(Errc::ResourceExhausted, "factors");
      auto rows = c.query(
          "INSERT INTO mfa_factors (user_id, type, name, secret, confirmed, created_at) VALUES "
          "($1, $2, $3, $4, FALSE, $5) RETURNING id",
          {f.user_id, f.type, f.name, f.secret, f.created_at});
      if (!rows) return tl::unexpected(rows.error());
      f.id = rows->int64(0, 0);
      f.confirmed = false;
      return f;
    });
  }

  core::Result<std::vector<MfaFactor>> listForUser(std::int64_t user_id) override {
    return pool_.with<std::vector<MfaFactor>>(
        [&](Connection& c) -> core::Result<std::vector<MfaFactor>> {
          auto rows =
              c.query(std::string(kFactorSelect) + "WHERE user_id = $1 ORDER BY id", {user_id});
          if (!rows) return tl::unexpected(rows.error());
          return allRows<MfaFactor>(*rows, readFactor);
        });
  }

  core::Result<std::optional<MfaFactor>> find(std::int64_t id) override {
    return pool_.with<std::optional<MfaFactor>>(
        [&](Connection& c) -> core::Result<std::optional<MfaFactor>> {
          auto rows = c.query(std::string(kFactorSelect) + "WHERE id = $1", {id});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<MfaFactor>{};
          return std::optional<MfaFactor>(readFactor(*rows, 0));
        });
  }

  core::Result<bool> confirm(std::int64_t id, std::int64_t user_id, std::int64_t step,
                             std::int64_t now, const std::vector<std::string>& recovery_hashes,
                             std::int64_t max_factors) override {
    return pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      if (auto ok = lockUser(c, user_id); !ok) return tl::unexpected(ok.error());
      auto first =
          c.query("SELECT COUNT(*) FROM mfa_factors WHERE user_id = $1 AND confirmed", {user_id});
      if (!first) return tl::unexpected(first.error());
      if (first->int64(0, 0) >= max_factors) return makeError(Errc::ResourceExhausted, "factors");
      const bool had_none = first->int64(0, 0) == 0;
      auto set = c.query(
          "UPDATE mfa_factors SET confirmed = TRUE, last_step = $1, last_used_at = $2 WHERE id = "
          "$3 AND user_id = $4 AND NOT confirmed",
          {step, now, id, user_id});
      if (!set) return tl::unexpected(set.error());
      if (set->affected() == 0) return makeError(Errc::NotFound, "factor");
      if (had_none) {
        if (auto ok = insertCodes(c, user_id, recovery_hashes); !ok)
          return tl::unexpected(ok.error());
      }
      if (auto ok = settleMfa(c, user_id); !ok) return tl::unexpected(ok.error());
      return had_none;
    });
  }

  core::Result<bool> useStep(std::int64_t id, std::int64_t step, std::int64_t now) override {
    return pool_.with<bool>([&](Connection& c) -> core::Result<bool> {
      // One statement: under concurrent updates PostgreSQL re-checks last_step on the new row.
      auto rows = c.query(
          "UPDATE mfa_factors SET last_step = $1, last_used_at = $2 WHERE id = $3 AND confirmed "
          "AND last_step < $1",
          {step, now, id});
      if (!rows) return tl::unexpected(rows.error());
      return rows->affected() == 1;
    });
  }

  core::Result<bool> remove(std::int64_t id, std::int64_t user_id) override {
    return pool_.transaction<bool>([&](Connection& c) -> core::Result<bool> {
      if (auto ok = lockUser(c, user_id); !ok) return tl::unexpected(ok.error());
      auto del =
          c.query("DELETE FROM mfa_factors WHERE id = $1 AND user_id = $2 RETURNING confirmed",
                  {id, user_id});
      if (!del) return tl::unexpected(del.error());
      if (del->empty()) return makeError(Errc::NotFound, "factor");
      const bool confirmed = del->boolean(0, 0);
      if (auto ok = settleMfa(c, user_id); !ok) return tl::unexpected(ok.error());
      return confirmed;
    });
  }

  core::Result<std::int64_t> removeAll(std::int64_t user_id,
                                       std::optional<std::string_view> role_is) override {
    return pool_.transaction<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
      // The user's row locked (factor changes are serialised on it), its role read under it.
      auto locked = c.query("SELECT role FROM users WHERE id = $1 FOR UPDATE", {user_id});
      if (!locked) return tl::unexpected(locked.error());
      if (role_is && locked->empty()) return makeError(Errc::NotFound, "user");
      if (role_is && locked->text(0, 0) != *role_is)
        return makeError(Errc::Aborted, "the user's role changed since it was read");
      auto del =
          c.query("DELETE FROM mfa_factors WHERE user_id = $1 RETURNING confirmed", {user_id});
      if (!del) return tl::unexpected(del.error());
      std::int64_t confirmed = 0;
      for (int i = 0; i < del->size(); ++i) confirmed += del->boolean(i, 0) ? 1 : 0;
      if (auto ok = settleMfa(c, user_id); !ok) return tl::unexpected(ok.error());
      return confirmed;
    });
  }

  core::Status replaceRecoveryCodes(std::int64_t user_id,
                                    const std::vector<std::string>& hashes) override {
    return pool_
        .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          if (auto ok = lockUser(c, user_id); !ok) return tl::unexpected(ok.error());
          if (auto ok = insertCodes(c, user_id, hashes); !ok) return tl::unexpected(ok.error());
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

  core::Result<bool> useRecoveryCode(std::int64_t user_id, std::string_view hash,
                                     std::int64_t now) override {
    return pool_.with<bool>([&](Connection& c) -> core::Result<bool> {
      auto rows = c.query(
          "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND "
          "used_at = 0",
          {now, user_id, hash});
      if (!rows) return tl::unexpected(rows.error());
      return rows->affected() == 1;
    });
  }

  core::Result<std::int64_t> recoveryCodesLeft(std::int64_t user_id) override {
    return pool_.with<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
      auto rows = c.query("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at = 0",
                          {user_id});
      if (!rows) return tl::unexpected(rows.error());
      return rows->int64(0, 0);
    });
  }

  core::Result<std::optional<std::int64_t>> countCodeAttempt(std::int64_t user_id,
                                                             std::int64_t threshold) override {
    using Count = std::optional<std::int64_t>;
    return pool_.with<Count>([&](Connection& c) -> core::Result<Count> {
      auto rows = c.query(kCountCodeAttempt, {user_id, threshold});
      if (!rows) return tl::unexpected(rows.error());
      if (rows->size() == 0) return std::nullopt;  // `threshold` counted: locked
      return rows->int64(0, 0);
    });
  }

  core::Status clearCodeAttempts(std::int64_t user_id) override {
    return pool_
        .with<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          auto rows = c.query("DELETE FROM mfa_code_attempts WHERE user_id = $1", {user_id});
          if (!rows) return tl::unexpected(rows.error());
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

  core::Result<std::pair<MfaFactor, bool>> addConfirmed(
      MfaFactor f, std::int64_t max_factors, const std::vector<std::string>& recovery_hashes,
      std::string_view session_id) override {
    using Added = std::pair<MfaFactor, bool>;
    return pool_.transaction<Added>([&](Connection& c) -> core::Result<Added> {
      if (auto ok = lockUser(c, f.user_id); !ok) return tl::unexpected(ok.error());
      auto live = sessionLive(c, session_id, f.user_id, std::nullopt);
      if (!live) return tl::unexpected(live.error());
      if (!*live) return makeError(Errc::Aborted, "the asking session ended");
      // Confirmed factors only: an enrolment left unfinished holds no place.
      auto count =
          c.query("SELECT COUNT(*) FROM mfa_factors WHERE user_id = $1 AND confirmed", {f.user_id});
      if (!count) return tl::unexpected(count.error());
      if (count->int64(0, 0) >= max_factors) return makeError(Errc::ResourceExhausted, "factors");
      const bool had_none = count->int64(0, 0) == 0;
      auto rows = c.query(
          "INSERT INTO mfa_factors (user_id, type, name, secret, confirmed, created_at, last_step, "
          "credential_id, passkey) VALUES ($1, $2, $3, '', TRUE, $4, $5, $6, $7) RETURNING id",
          {f.user_id, f.type, f.name, f.created_at, f.last_step, f.credential_id, f.passkey});
      if (!rows) return tl::unexpected(rows.error());
      f.id = rows->int64(0, 0);
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
    return pool_.with<std::optional<MfaFactor>>(
        [&](Connection& c) -> core::Result<std::optional<MfaFactor>> {
          auto rows = c.query(std::string(kFactorSelect) + "WHERE credential_id = $1 AND confirmed",
                              {credential_id});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<MfaFactor>{};
          return std::optional<MfaFactor>(readFactor(*rows, 0));
        });
  }

  core::Result<bool> useSignCount(std::int64_t id, std::int64_t count, std::string_view read,
                                  std::string_view passkey, std::int64_t now) override {
    return pool_.with<bool>([&](Connection& c) -> core::Result<bool> {
      // One statement: under concurrent updates PostgreSQL re-checks the row as it is then.
      auto rows = c.query(
          "UPDATE mfa_factors SET last_step = $1, passkey = $2, last_used_at = $3 WHERE id = $4 "
          "AND confirmed AND (last_step < $1 OR ($1 = 0 AND last_step = 0)) AND passkey = $5",
          {count, passkey, now, id, read});
      if (!rows) return tl::unexpected(rows.error());
      return rows->affected() == 1;
    });
  }

  core::Status rename(std::int64_t id, std::int64_t user_id, std::string_view name) override {
    return pool_
        .with<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          auto rows = c.query("UPDATE mfa_factors SET name = $1 WHERE id = $2 AND user_id = $3",
                              {name, id, user_id});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->affected() == 0) return makeError(Errc::NotFound, "factor");
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

 private:
  Pool& pool_;
};

constexpr std::string_view kTokenSelect =
    "SELECT hash, user_id, purpose, email, created_at, expires_at FROM email_tokens ";
constexpr std::string_view kOutboxColumns =
    "id, kind, sender, recipient, user_id, body, created_at, attempts, claimed_until, expires_at";

EmailToken readToken(const Rows& r, int i) {
  return EmailToken{r.text(i, 0), r.int64(i, 1), r.text(i, 2),
                    r.text(i, 3), r.int64(i, 4), r.int64(i, 5)};
}

OutboxMessage readMessage(const Rows& r, int i) {
  return OutboxMessage{r.int64(i, 0),
                       r.text(i, 1),
                       r.text(i, 2),
                       r.text(i, 3),
                       r.isNull(i, 4) ? std::nullopt : std::optional(r.int64(i, 4)),
                       r.text(i, 5),
                       r.int64(i, 6),
                       r.int64(i, 7),
                       r.int64(i, 8),
                       r.int64(i, 9)};
}

class PgMail final : public MailStore {
 public:
  explicit PgMail(Pool& pool) : pool_(pool) {}

  core::Status issue(const EmailToken& token, const std::vector<OutboxMessage>& messages,
                     std::int64_t keep, std::string_view live_session) override {
    return pool_
        .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          // The session's row lock orders this against ending it: a reset that commits first is
          // seen here (revoked); one that commits later deletes this token.
          if (!live_session.empty()) {
            // The user's row first, as ending every session locks it first (no deadlock).
            if (auto ok = lockUser(c, token.user_id); !ok) return tl::unexpected(ok.error());
            auto live = c.query("SELECT revoked, expires_at FROM sessions WHERE id = $1 FOR UPDATE",
                                {live_session});
            if (!live) return tl::unexpected(live.error());
            if (live->empty() || live->boolean(0, 0) || live->int64(0, 1) <= token.created_at)
              return makeError(Errc::FailedPrecondition, "session ended");
          }
          if (!token.hash.empty()) {
            if (auto ok = insertToken(c, token, keep, live_session); !ok)
              return tl::unexpected(ok.error());
          }
          if (auto ok = insertMessages(c, messages); !ok) return tl::unexpected(ok.error());
          return std::monostate{};
        })
        .map([](std::monostate) {});
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
    return pool_.with<std::optional<EmailToken>>(
        [&](Connection& c) -> core::Result<std::optional<EmailToken>> {
          auto rows = c.query(
              std::string(kTokenSelect) + "WHERE hash = $1 AND purpose = $2 AND expires_at > $3",
              {hash, purpose, now});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<EmailToken>{};
          return std::optional(readToken(*rows, 0));
        });
  }

  core::Result<User> redeem(std::string_view hash, std::string_view purpose, std::int64_t now,
                            const TokenEffect& effect) override {
    return pool_.transaction<User>([&](Connection& c) -> core::Result<User> {
      // The user's row first, as ending every session and issuing tokens lock it first (one lock
      // order: no deadlock with a password change or a reset racing this).
      auto owner = c.query(
          "SELECT user_id, coalesce(session_id, '') FROM email_tokens WHERE hash = $1 AND "
          "purpose = $2 AND expires_at > $3",
          {hash, purpose, now});
      if (!owner) return tl::unexpected(owner.error());
      if (owner->empty()) return makeError(Errc::NotFound, "token");
      const std::string asker = owner->text(0, 1);
      if (auto ok = lockUser(c, owner->int64(0, 0)); !ok) return tl::unexpected(ok.error());
      // Compare-and-delete: of two nodes spending the same token, one deletes it, the other
      // finds nothing.
      auto spent = c.query(
          "DELETE FROM email_tokens WHERE hash = $1 AND purpose = $2 AND expires_at > $3 "
          "RETURNING hash, user_id, purpose, email, created_at, expires_at",
          {hash, purpose, now});
      if (!spent) return tl::unexpected(spent.error());
      if (spent->empty()) return makeError(Errc::NotFound, "token");
      const EmailToken t = readToken(*spent, 0);
      auto user = oneUser(c, "WHERE id = $1", t.user_id);
      if (!user) return tl::unexpected(user.error());
      if (!*user || !(*user)->is_active) return makeError(Errc::NotFound, "user");
      User u = **user;
      // The token was sent to an address: it proves nothing once the account's address changed.
      if (effect.kind != TokenEffect::Kind::ChangeEmail && !sameAddress(u.email, t.email))
        return makeError(Errc::NotFound, "address changed");
      // One a session asked for (an email change) stands only while that session lives. FOR
      // SHARE: a logout or reuse detection ending it right now is waited for and seen (they lock
      // only the session's row; a password change locks the user's first, as this did).
      if (!asker.empty()) {
        auto live = c.query(
            "SELECT 1 FROM sessions WHERE id = $1 AND NOT revoked AND expires_at > $2 FOR SHARE",
            {asker, now});
        if (!live) return tl::unexpected(live.error());
        if (live->empty()) return makeError(Errc::NotFound, "the asking session ended");
      }
      auto others = c.query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2",
                            {t.user_id, purpose});
      if (!others) return tl::unexpected(others.error());
      switch (effect.kind) {
        case TokenEffect::Kind::VerifyEmail:
          break;
        case TokenEffect::Kind::ResetPassword: {
          auto set =
              c.query("UPDATE users SET password_hash = $1, address_moved = FALSE WHERE id = $2",
                      {effect.password_hash, u.id});
          if (!set) return tl::unexpected(set.error());
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
          u.password_hash = effect.password_hash;
          u.address_moved = false;
          u.tokens_valid_after = now;
          break;
        }
        case TokenEffect::Kind::ChangeEmail: {
          auto set = c.query(
              "UPDATE users SET email = $1, address_moved = TRUE, updated_at = $2 WHERE id = $3",
              {t.email, now, u.id});
          if (!set) return tl::unexpected(set.error());
          if (auto ok = dropEmailedTokens(c, u.id); !ok) return tl::unexpected(ok.error());
          u.email = t.email;
          u.address_moved = true;
          break;
        }
      }
      if (!u.email_verified) {
        auto verified = c.query(
            "UPDATE users SET email_verified = TRUE, updated_at = $1 WHERE id = $2", {now, u.id});
        if (!verified) return tl::unexpected(verified.error());
      }
      u.email_verified = true;
      return u;
    });
  }

  core::Result<std::optional<OutboxMessage>> claim(std::int64_t now, std::int64_t lease,
                                                   std::string_view node) override {
    return pool_.transaction<std::optional<OutboxMessage>>(
        [&](Connection& c) -> core::Result<std::optional<OutboxMessage>> {
          // SKIP LOCKED: a message another node is claiming right now is not waited for, and
          // never handed out twice.
          auto rows = c.query(
              "UPDATE mail_outbox SET claimed_until = $2, claimed_by = $3, attempts = attempts + 1 "
              "WHERE id = "
              "(SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $1 AND "
              "claimed_until <= $1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " +
                  std::string(kOutboxColumns),
              {now, now + lease, node});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<OutboxMessage>{};
          return std::optional(readMessage(*rows, 0));
        });
  }

  core::Result<std::int64_t> release(std::string_view node) override {
    return pool_.with<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
      auto rows = c.query(
          "UPDATE mail_outbox SET claimed_until = 0 WHERE state = 'pending' AND claimed_by = $1 "
          "AND claimed_until > 0",
          {node});
      if (!rows) return tl::unexpected(rows.error());
      return rows->affected();
    });
  }

  core::Result<bool> markSent(std::int64_t id, std::int64_t now) override {
    return pool_.with<bool>([&](Connection& c) -> core::Result<bool> {
      auto rows = c.query(
          "UPDATE mail_outbox SET state = 'sent', body = '', finished_at = $1, last_error = '' "
          "WHERE id = $2 AND state = 'pending'",
          {now, id});
      if (!rows) return tl::unexpected(rows.error());
      return rows->affected() == 1;
    });
  }

  core::Status retryLater(std::int64_t id, std::int64_t next_attempt_at,
                          std::string_view error) override {
    return run(pool_,
               "UPDATE mail_outbox SET next_attempt_at = $1, claimed_until = 0, last_error = $2 "
               "WHERE id = $3 AND state = 'pending'",
               {next_attempt_at, error, id});
  }

  core::Status abandon(std::int64_t id, std::int64_t now, std::string_view error) override {
    return run(pool_,
               "UPDATE mail_outbox SET state = 'abandoned', body = '', finished_at = $1, "
               "last_error = $2 WHERE id = $3 AND state = 'pending'",
               {now, error, id});
  }

  core::Result<std::int64_t> pending() override {
    return pool_.with<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
      auto rows = c.query("SELECT COUNT(*) FROM mail_outbox WHERE state = 'pending'");
      if (!rows) return tl::unexpected(rows.error());
      return rows->int64(0, 0);
    });
  }

  core::Status purge(std::int64_t now, std::int64_t finished_before) override {
    if (auto ok = run(pool_, "DELETE FROM email_tokens WHERE expires_at <= $1", {now}); !ok)
      return ok;
    return run(pool_, "DELETE FROM mail_outbox WHERE state <> 'pending' AND finished_at < $1",
               {finished_before});
  }

 private:
  static core::Status insertToken(Connection& c, const EmailToken& t, std::int64_t keep,
                                  std::string_view session) {
    if (auto ok = lockUser(c, t.user_id); !ok) return ok;
    // Only the newest keep - 1 of this user's live tokens for the purpose stay beside the new one.
    auto trim = c.query(
        "DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND hash NOT IN (SELECT "
        "hash FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND expires_at > $3 ORDER BY "
        "created_at DESC, hash LIMIT $4)",
        {t.user_id, t.purpose, t.created_at, std::max<std::int64_t>(keep - 1, 0)});
    if (!trim) return tl::unexpected(trim.error());
    auto rows = c.query(
        "INSERT INTO email_tokens (hash, user_id, purpose, email, created_at, expires_at, "
        "session_id) VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''))",
        {t.hash, t.user_id, t.purpose, t.email, t.created_at, t.expires_at, session});
    if (!rows) return tl::unexpected(rows.error());
    return {};
  }

  static core::Status insertMessages(Connection& c, const std::vector<OutboxMessage>& messages) {
    for (const auto& m : messages) {
      auto rows = c.query(
          "INSERT INTO mail_outbox (kind, sender, recipient, user_id, body, next_attempt_at, "
          "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
          {m.kind, m.sender, m.recipient, Param(m.user_id), m.body, m.created_at, m.expires_at});
      if (!rows) return tl::unexpected(rows.error());
    }
    return {};
  }

  Pool& pool_;
};

constexpr std::string_view kClientSelect =
    "SELECT client_id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, "
    "scope, is_public, first_party, created_at, secret_rotated_at FROM op_clients ";

core::Result<OpClient> readClient(const Rows& r, int i) {
  OpClient client;
  client.client_id = r.text(i, 0);
  client.name = r.text(i, 1);
  client.secret_hash = r.text(i, 2);
  for (auto [column, list] :
       {std::pair{3, &client.redirect_uris}, std::pair{4, &client.post_logout_redirect_uris},
        std::pair{5, &client.grant_types}}) {
    auto parsed = listFromJson(r.text(i, column));
    if (!parsed) return tl::unexpected(parsed.error());
    *list = std::move(*parsed);
  }
  client.scope = r.text(i, 6);
  client.is_public = r.boolean(i, 7);
  client.first_party = r.boolean(i, 8);
  client.created_at = r.int64(i, 9);
  client.secret_rotated_at = r.int64(i, 10);
  return client;
}

constexpr std::string_view kCodeColumns =
    "hash, client_id, user_id, data, created_at, expires_at, used_at, session_id";

OpCode readCode(const Rows& r, int i) {
  return OpCode{r.text(i, 0), r.text(i, 1),  r.int64(i, 2),
                r.text(i, 3), r.int64(i, 4), r.int64(i, 5)};
}

// Consents and codes go with their client and their user through the foreign keys' cascades.
class PgOp final : public OpStore {
 public:
  explicit PgOp(Pool& pool) : pool_(pool) {}

  core::Result<OpClient> createClient(const OpClient& client, std::size_t max_clients) override {
    return pool_.transaction<OpClient>([&](Connection& c) -> core::Result<OpClient> {
      // One creation at a time, across nodes, from the count to the commit (a lock of its own,
      // held by nothing else).
      if (auto locked = lock(c, kOpClientLock); !locked) return tl::unexpected(locked.error());
      auto held = c.query("SELECT COUNT(*) FROM op_clients", {});
      if (!held) return tl::unexpected(held.error());
      if (static_cast<std::uint64_t>(held->int64(0, 0)) >= max_clients)
        return makeError(Errc::ResourceExhausted, "the provider holds the most clients");
      auto rows = c.query(
          "INSERT INTO op_clients (client_id, name, secret_hash, redirect_uris, "
          "post_logout_redirect_uris, grant_types, scope, is_public, first_party, "
          "created_at, secret_rotated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
          "$10, $11)",
          {client.client_id, client.name, client.secret_hash, listToJson(client.redirect_uris),
           listToJson(client.post_logout_redirect_uris), listToJson(client.grant_types),
           client.scope, client.is_public, client.first_party, client.created_at,
           client.secret_rotated_at});
      if (!rows) return tl::unexpected(rows.error());
      return client;
    });
  }

  core::Result<std::optional<OpClient>> findClient(std::string_view client_id) override {
    return pool_.with<std::optional<OpClient>>(
        [&](Connection& c) -> core::Result<std::optional<OpClient>> {
          auto rows = c.query(std::string(kClientSelect) + "WHERE client_id = $1", {client_id});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<OpClient>{};
          auto client = readClient(*rows, 0);
          if (!client) return tl::unexpected(client.error());
          return std::optional(std::move(*client));
        });
  }

  core::Result<std::vector<OpClient>> listClients() override {
    return pool_.with<std::vector<OpClient>>(
        [&](Connection& c) -> core::Result<std::vector<OpClient>> {
          auto rows = c.query(std::string(kClientSelect) + "ORDER BY created_at, client_id");
          if (!rows) return tl::unexpected(rows.error());
          std::vector<OpClient> out;
          out.reserve(static_cast<std::size_t>(rows->size()));
          for (int i = 0; i < rows->size(); ++i) {
            auto client = readClient(*rows, i);
            if (!client) return tl::unexpected(client.error());
            out.push_back(std::move(*client));
          }
          return out;
        });
  }

  core::Result<std::int64_t> removeClient(std::string_view client_id, std::string_view grant_label,
                                          std::int64_t tokens_until) override {
    return pool_.transaction<std::int64_t>([&](Connection& c) -> core::Result<std::int64_t> {
      auto gone = c.query("DELETE FROM op_clients WHERE client_id = $1", {client_id});
      if (!gone) return tl::unexpected(gone.error());
      if (gone->affected() != 1) return makeError(Errc::NotFound, "client");
      auto grants =
          c.query("UPDATE sessions SET revoked = TRUE WHERE user_agent = $1 AND NOT revoked",
                  {grant_label});
      if (!grants) return tl::unexpected(grants.error());
      if (auto ok = holdRevoked(c, clientRevocationKey(client_id), tokens_until); !ok)
        return tl::unexpected(ok.error());
      return static_cast<std::int64_t>(grants->affected());
    });
  }

  core::Status setClientSecret(std::string_view client_id, std::string_view secret_hash,
                               std::int64_t now) override {
    return pool_
        .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          auto kind = c.query("SELECT is_public FROM op_clients WHERE client_id = $1 FOR UPDATE",
                              {client_id});
          if (!kind) return tl::unexpected(kind.error());
          if (kind->empty()) return makeError(Errc::NotFound, "client");
          if (kind->boolean(0, 0)) return makeError(Errc::FailedPrecondition, "public client");
          auto set = c.query(
              "UPDATE op_clients SET secret_hash = $1, secret_rotated_at = $2 WHERE client_id = "
              "$3",
              {secret_hash, now, client_id});
          if (!set) return tl::unexpected(set.error());
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

  core::Status saveConsent(std::int64_t user_id, std::string_view client_id, std::string_view scope,
                           std::int64_t now) override {
    return run(pool_,
               "INSERT INTO op_consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, "
               "$3, $4) ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, "
               "granted_at = excluded.granted_at",
               {user_id, client_id, scope, now});
  }

  core::Result<std::optional<std::string>> findConsent(std::int64_t user_id,
                                                       std::string_view client_id) override {
    return pool_.with<std::optional<std::string>>(
        [&](Connection& c) -> core::Result<std::optional<std::string>> {
          auto rows = c.query("SELECT scope FROM op_consents WHERE user_id = $1 AND client_id = $2",
                              {user_id, client_id});
          if (!rows) return tl::unexpected(rows.error());
          if (rows->empty()) return std::optional<std::string>{};
          return std::optional(rows->text(0, 0));
        });
  }

  core::Status putCode(const OpCode& code) override {
    return run(
        pool_,
        "INSERT INTO op_codes (hash, client_id, user_id, data, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        {code.hash, code.client_id, code.user_id, code.data, code.created_at, code.expires_at});
  }

  core::Result<std::optional<OpCode>> findCode(std::string_view hash, std::string_view client_id,
                                               std::int64_t now) override {
    return pool_.with<std::optional<OpCode>>(
        [&](Connection& c) -> core::Result<std::optional<OpCode>> {
          auto found = c.query("SELECT " + std::string(kCodeColumns) +
                                   " FROM op_codes WHERE hash = $1 AND client_id = $2 AND "
                                   "(used_at IS NOT NULL OR expires_at > $3)",
                               {hash, client_id, now});
          if (!found) return tl::unexpected(found.error());
          if (found->empty()) return std::optional<OpCode>();
          return std::optional<OpCode>(readCode(*found, 0));
        });
  }

  core::Result<CodeRedemption> redeemCode(std::string_view hash, std::string_view client_id,
                                          std::string_view session_id, std::int64_t now) override {
    return pool_.transaction<CodeRedemption>([&](Connection& c) -> core::Result<CodeRedemption> {
      // Compare-and-set in one statement: a concurrent redeemer waits for this row's lock, then
      // PostgreSQL re-checks used_at on the committed row and updates nothing.
      auto spent = c.query(
          "UPDATE op_codes SET used_at = $2, session_id = $3 WHERE hash = $1 AND client_id = $4 "
          "AND used_at IS NULL AND expires_at > $2 RETURNING " +
              std::string(kCodeColumns),
          {hash, now, session_id, client_id});
      if (!spent) return tl::unexpected(spent.error());
      CodeRedemption out;
      if (!spent->empty()) {
        out.outcome = CodeRedemption::Outcome::Redeemed;
        out.code = readCode(*spent, 0);
        return out;
      }
      // A new snapshot (READ COMMITTED): the spend that beat this one is visible.
      auto seen = c.query("SELECT " + std::string(kCodeColumns) +
                              " FROM op_codes WHERE hash = $1 AND client_id = $2",
                          {hash, client_id});
      if (!seen) return tl::unexpected(seen.error());
      if (seen->empty() || seen->isNull(0, 6)) return out;
      out.outcome = CodeRedemption::Outcome::Replayed;
      out.code = readCode(*seen, 0);
      out.session_id = seen->text(0, 7);
      return out;
    });
  }

  core::Status purgeCodes(std::int64_t before) override {
    return run(pool_, "DELETE FROM op_codes WHERE expires_at < $1", {before});
  }

  core::Result<std::string> signingKey(std::string_view candidate, std::int64_t now) override {
    // An empty candidate only reads (an empty key is never stored).
    if (candidate.empty()) {
      return pool_.with<std::string>([&](Connection& c) -> core::Result<std::string> {
        auto stored = c.query("SELECT sealed FROM op_keys WHERE id = 1");
        if (!stored) return tl::unexpected(stored.error());
        return stored->empty() ? std::string() : stored->text(0, 0);
      });
    }
    return pool_.transaction<std::string>([&](Connection& c) -> core::Result<std::string> {
      // A racing insert waits for the first one to commit, then does nothing; the read after it
      // (a new snapshot) sees the first key.
      auto put = c.query(
          "INSERT INTO op_keys (id, sealed, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO "
          "NOTHING",
          {candidate, now});
      if (!put) return tl::unexpected(put.error());
      auto stored = c.query("SELECT sealed FROM op_keys WHERE id = 1");
      if (!stored) return tl::unexpected(stored.error());
      if (stored->empty()) return makeError(Errc::Internal, "op_keys: no key after insert");
      return stored->text(0, 0);
    });
  }

 private:
  Pool& pool_;
};

class PgKeyRing final : public KeyRingStore {
 public:
  explicit PgKeyRing(Pool& pool) : pool_(pool) {}

  core::Result<std::vector<StoredKey>> list() override {
    return pool_.with<std::vector<StoredKey>>(
        [](Connection& c) -> core::Result<std::vector<StoredKey>> {
          auto rows = c.query(
              "SELECT purpose, alg, generation, kid, sealed, created_at, signs_from FROM key_ring "
              "ORDER BY purpose, alg, generation");
          if (!rows) return tl::unexpected(rows.error());
          return allRows<StoredKey>(*rows, [](const Rows& r, int i) {
            return StoredKey{r.text(i, 0), r.text(i, 1),  r.int64(i, 2), r.text(i, 3),
                             r.text(i, 4), r.int64(i, 5), r.int64(i, 6)};
          });
        });
  }

  core::Status add(const std::vector<StoredKey>& keys) override { return addThenRemove(keys, 0); }

  core::Status replace(const StoredKey& key) override {
    return addThenRemove({key}, key.generation);
  }

  core::Status removeBelow(std::string_view purpose, std::string_view alg,
                           std::int64_t generation) override {
    return run(pool_, "DELETE FROM key_ring WHERE purpose = $1 AND alg = $2 AND generation < $3",
               {purpose, alg, generation});
  }

 private:
  // `keys` stored and, with `below` > 0, the older keys of the first one's (purpose, alg) gone,
  // in one transaction.
  core::Status addThenRemove(const std::vector<StoredKey>& keys, std::int64_t below) {
    return pool_
        .transaction<std::monostate>([&](Connection& c) -> core::Result<std::monostate> {
          for (const auto& k : keys) {
            auto put = c.query(
                "INSERT INTO key_ring (purpose, alg, generation, kid, sealed, created_at, "
                "signs_from) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                {k.purpose, k.alg, k.generation, k.kid, k.sealed, k.created_at, k.signs_from});
            if (!put) return tl::unexpected(put.error());
          }
          if (below > 0 && !keys.empty()) {
            auto gone =
                c.query("DELETE FROM key_ring WHERE purpose = $1 AND alg = $2 AND generation < $3",
                        {keys.front().purpose, keys.front().alg, below});
            if (!gone) return tl::unexpected(gone.error());
          }
          return std::monostate{};
        })
        .map([](std::monostate) {});
  }

  Pool& pool_;
};

class PgStore final : public Store {
 public:
  PgStore(const std::string& url, std::size_t pool_size)
      : pool_(url, pool_size),
        users_(pool_),
        sessions_(pool_),
        revocations_(pool_),
        audit_(pool_),
        api_keys_(pool_),
        identities_(pool_),
        mfa_(pool_),
        mail_(pool_),
        op_(pool_),
        key_ring_(pool_) {}

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

  core::Status ping() override { return run(pool_, "SELECT 1", {}); }

  core::Result<bool> holdsMasterKeyedData() override {
    return pool_.with<bool>([](Connection& c) -> core::Result<bool> {
      auto rows = c.query(kMasterKeyedDataQuery, {});
      if (!rows) return tl::unexpected(rows.error());
      return rows->int64(0, 0) != 0;
    });
  }

  core::Result<int> migrate() override {
    // One connection holds a session-level advisory lock for the whole run, so nodes started
    // together (or `gatehouse migrate` run from several hosts) apply each migration once.
    return pool_.with<int>([](Connection& c) -> core::Result<int> {
      // Unlimited here: waiting for another node's run, and an index built on a large table.
      if (auto ok = c.limitStatements(false); !ok) return tl::unexpected(ok.error());
      auto locked = c.query("SELECT pg_advisory_lock($1)", {kMigrateLock});
      auto result = locked ? applyMigrations(c) : tl::unexpected(locked.error());
      if (locked) (void)c.query("SELECT pg_advisory_unlock($1)", {kMigrateLock});
      // Back to the limits before the connection goes back to the pool (failing that, the run
      // fails: a server does not start on it).
      if (auto ok = c.limitStatements(true); !ok && result) return tl::unexpected(ok.error());
      return result;
    });
  }

 private:
  static core::Result<int> applyMigrations(Connection& c) {
    if (auto ok =
            c.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                   "applied_at BIGINT NOT NULL)");
        !ok)
      return tl::unexpected(ok.error());
    // The versions applied, read once (the lock keeps them current): a migrated database costs
    // one round trip here, not one per migration.
    auto seen = c.query("SELECT version FROM schema_migrations", {});
    if (!seen) return tl::unexpected(seen.error());
    std::set<std::int64_t> applied;
    for (int row = 0; row < seen->size(); ++row) applied.insert(seen->int64(row, 0));
    int version = 0;
    for (std::size_t i = 0; i < std::size(kMigrations); ++i) {
      const auto target = static_cast<std::int64_t>(i + 1);
      if (!applied.contains(target)) {
        if (auto ok = c.exec("BEGIN"); !ok) return tl::unexpected(ok.error());
        auto ok = c.exec(kMigrations[i]);
        if (ok) {
          auto mark = c.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                              {target, nowSeconds()});
          if (!mark) ok = tl::unexpected(mark.error());
        }
        if (!ok) {
          (void)c.exec("ROLLBACK");
          return tl::unexpected(core::Error{
              ok.error().code, "migration " + std::to_string(target) + ": " + ok.error().message});
        }
        if (auto commit = c.exec("COMMIT"); !commit) return tl::unexpected(commit.error());
      }
      version = static_cast<int>(target);
    }
    // A newer version's migrations recorded: the schema in place is theirs.
    if (!applied.empty()) version = std::max(version, static_cast<int>(*applied.rbegin()));
    return version;
  }

  Pool pool_;
  PgUsers users_;
  PgSessions sessions_;
  PgRevocations revocations_;
  PgAudit audit_;
  PgApiKeys api_keys_;
  PgIdentities identities_;
  PgMfa mfa_;
  PgMail mail_;
  PgOp op_;
  PgKeyRing key_ring_;
};

}  // namespace

core::Result<std::unique_ptr<Store>> openPostgresStore(const std::string& url,
                                                       std::size_t pool_size) {
  return std::unique_ptr<Store>(std::make_unique<PgStore>(withConnectTimeout(url), pool_size));
}

}  // namespace gatehouse::store::postgres
