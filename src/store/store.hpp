#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ascii.hpp"
#include "core/error.hpp"

namespace gatehouse::store {

struct User {
  std::int64_t id = 0;
  std::string email;
  std::string username;
  std::string password_hash;  // empty for accounts without a password (external sign-in)
  std::string role;
  bool is_active = true;
  std::int64_t created_at = 0;  // Unix seconds
  // Access tokens issued before this (Unix seconds) are void: set on password change and
  // deactivation.
  std::int64_t tokens_valid_after = 0;
  // The user has proven they receive mail at `email` (a provider that verified it, an operator,
  // or later a verification link). Changing the email clears it.
  bool email_verified = false;
  // The user has a confirmed second factor (kept by the factor store in the same transaction).
  bool mfa_enabled = false;
  // The address was set by a change (a confirmed email change, an administrator's) since the
  // last reset by mail: whoever made the account, and its ways in, may be someone else than the
  // address's owner, who followed the confirmation link. External sign-in does not join such an
  // account by its address (an outside review); a reset by mail, which ends the others' ways in,
  // clears it (migration 21).
  bool address_moved = false;
};

// One read of a change log (users or API keys): the ids changed after the seq asked for, in
// order, at most kChangeLogPage of them, and the newest seq read.
struct ChangeLogRead {
  std::vector<std::int64_t> ids;
  std::int64_t seq = 0;
  // Changes after the seq asked for were purged unread (a reader that had not read the log for
  // a day): `ids` is not all that changed, and a cache must forget everything it holds.
  bool missed = false;
  // The page was full: more changes follow `seq`, to read at once.
  bool more = false;
};
inline constexpr std::size_t kChangeLogPage = 10000;

struct NewUser {
  std::string email;
  std::string username;
  std::string password_hash;
  std::string role;
  bool is_active = true;
  bool email_verified = false;
};

// A user moved in from elsewhere (API.md, Moving in from elsewhere).
struct ImportedUser {
  NewUser user;
  std::int64_t created_at = 0;
  // The user's id in the system they come from (the seed's users.id), remembered so that system's
  // tokens can name them; empty for none.
  std::string legacy_subject;
};

struct ImportOutcome {
  enum class Kind {
    Created,        // user_id is the new user
    Skipped,        // a user with this email exists (user_id); nothing changed
    UsernameTaken,  // another user (user_id) has this username; nothing changed
  } kind = Kind::Created;
  std::int64_t user_id = 0;
  // The item's legacy subject was remembered for another user (the system it comes from gave a
  // deleted user's id to a new one): that record was deleted, so the subject names nobody here
  // and neither user's old tokens are taken.
  bool legacy_subject_dropped = false;
};

// A change to a user; a new email (other than a change of letter case) clears email_verified
// unless the patch sets it.
struct UserPatch {
  std::optional<std::string> email;
  std::optional<std::string> username;
  std::optional<bool> is_active;
  std::optional<std::string> role;
  std::optional<bool> email_verified;
  // When the patch deactivates the user (active before, inactive after): in the same transaction,
  // tokens_valid_after becomes this, every session of the user is revoked and every API key too.
  std::optional<std::int64_t> deactivated_at;
  // The change applies only while the user's role is still this one (the role an actor's rights
  // were judged against): Aborted otherwise, and nothing is written.
  std::optional<std::string> role_is;
};

// What UserStore::update found and left, both as its transaction saw them.
struct UserChange {
  User before;
  User after;
};

// Whether two addresses name the same account: the users table's rule, equal ignoring ASCII
// letter case (the backends' unique index, a patch that changes only the case, an email change to
// one's own address).
constexpr bool sameAddress(std::string_view a, std::string_view b) noexcept {
  return core::equalsIgnoringCase(a, b);
}

// What a new password ends besides every session of the user (UserStore::changePassword).
struct PasswordEnds {
  bool api_keys = false;  // every API key too
  // The other ways in, as a reset by mail does (TokenEffect::ResetPassword): the linked
  // identities go, the passkeys stay second factors only. A first password too (unlike a reset by
  // mail, whose reader proved the address the account was made with): an administrator recovering
  // an account made by external sign-in cannot tell its maker's identity from a thief's (a review).
  bool other_ways_in = false;
  // Set only while the user's role is still this one (the role an administrator's rights were
  // judged against): Aborted otherwise, and nothing is written.
  std::optional<std::string> role_is;
};

// Users, unique by email and by username (both case-insensitive), enforced by the database.
// Implementations MUST be thread-safe.
class UserStore {
 public:
  virtual ~UserStore() = default;
  // AlreadyExists with message "email" or "username" on a duplicate.
  [[nodiscard]] virtual core::Result<User> create(const NewUser& user) = 0;
  [[nodiscard]] virtual core::Result<std::optional<User>> findById(std::int64_t id) = 0;
  [[nodiscard]] virtual core::Result<std::optional<User>> findByEmail(std::string_view email) = 0;
  [[nodiscard]] virtual core::Result<std::optional<User>> findByUsername(
      std::string_view username) = 0;
  [[nodiscard]] virtual core::Result<std::vector<User>> list(std::int64_t limit,
                                                             std::int64_t offset) = 0;
  [[nodiscard]] virtual core::Result<std::int64_t> count() = 0;
  // Users whose email or username contains `text` (case-insensitive, `text` taken literally:
  // no wildcards), by id; `text` empty lists everyone.
  [[nodiscard]] virtual core::Result<std::vector<User>> search(std::string_view text,
                                                               std::int64_t limit,
                                                               std::int64_t offset) = 0;
  // In one transaction (a deactivation's sessions, keys and watermark included, see UserPatch):
  // NotFound, AlreadyExists (conflict Email or Username), FailedPrecondition when the change
  // would leave no active user with role `protected_role`, or Aborted (UserPatch::role_is).
  [[nodiscard]] virtual core::Result<UserChange> update(std::int64_t id, const UserPatch& patch,
                                                        std::string_view protected_role) = 0;
  // NotFound, or FailedPrecondition when it would remove the last active `protected_role`;
  // Aborted, nothing removed, unless the user's role is still `role_is` when set (the role an
  // actor's rights were judged against).
  [[nodiscard]] virtual core::Status remove(std::int64_t id, std::string_view protected_role,
                                            std::optional<std::string_view> role_is) = 0;
  // Compare-and-set: the hash becomes `hash` only while it is still `expected` (a login's rehash
  // must never undo a password change or reset that committed meanwhile). NotFound otherwise.
  [[nodiscard]] virtual core::Status replacePasswordHash(std::int64_t id, std::string_view expected,
                                                         std::string_view hash) = 0;
  // In one transaction: the new hash, earlier tokens voided (tokens_valid_after = `now`), every
  // session of the user revoked and what `ends` names. NotFound; Aborted (PasswordEnds::role_is).
  [[nodiscard]] virtual core::Status changePassword(std::int64_t id, std::string_view hash,
                                                    std::int64_t now, PasswordEnds ends) = 0;
  // Moves the watermark to `when` unless it is later already (a node whose clock runs behind
  // never revives tokens a later watermark voided).
  // With `role_is`, only while the user's role is still that one (the role an actor's rights were
  // judged against): Aborted otherwise, or when the user is gone, and nothing moves.
  [[nodiscard]] virtual core::Status setTokensValidAfter(
      std::int64_t id, std::int64_t when, std::optional<std::string_view> role_is) = 0;
  // In one transaction, in order: each user is created unless a user with the same email (any
  // letter case; an earlier item of the same batch included) exists or the username is taken. A
  // created user's legacy subject is remembered under `source`; a subject already remembered for
  // a user other than the item's is forgotten (legacy_subject_dropped). All or nothing: a
  // failure creates none of them.
  [[nodiscard]] virtual core::Result<std::vector<ImportOutcome>> importUsers(
      const std::vector<ImportedUser>& users, std::string_view source) = 0;
  // The user a legacy subject of `source` was imported as.
  [[nodiscard]] virtual core::Result<std::optional<std::int64_t>> findByLegacySubject(
      std::string_view source, std::string_view subject) = 0;
  // Users changed or deleted after change number `seq` (by any process: the database records
  // every change), and the latest change number. Caches poll this to stay true.
  [[nodiscard]] virtual core::Result<ChangeLogRead> changesSince(std::int64_t seq) = 0;
  // Deletes at most `limit` of the oldest changes, in order, up to the newest recorded before
  // `before`; how many. A later read from before them says it missed them (ChangeLogRead::missed).
  [[nodiscard]] virtual core::Result<std::int64_t> purgeChanges(std::int64_t before,
                                                                std::int64_t limit) = 0;
};

// A login session: one refresh-token family (RFC 9700 §4.14.2).
struct Session {
  std::string id;
  std::int64_t user_id = 0;
  std::string refresh_jti;  // the only refresh token of this family still usable
  std::string user_agent;
  std::string ip;
  std::int64_t created_at = 0;
  std::int64_t last_used_at = 0;
  std::int64_t expires_at = 0;
  bool revoked = false;
  std::string previous_jti;  // the refresh token this one replaced
  std::int64_t rotated_at = 0;

  // Not ended and not expired at `now`.
  bool liveAt(std::int64_t now) const { return !revoked && expires_at > now; }
};

// The revocation-list entry that ends every access token of a session at once (tokens carry
// `sid`). It shares the list with token ids, which are base64url and never hold ':'.
inline constexpr std::string_view kSessionRevocationPrefix = "sid:";
// The stores' SQL cuts it off as substr(jti, 5) (purgeExpired).
static_assert(kSessionRevocationPrefix.size() == 4);
inline std::string sessionRevocationKey(std::string_view session_id) {
  std::string key(kSessionRevocationPrefix);
  key += session_id;
  return key;
}

// The entry that ends every access token of a deleted OpenID client (they carry `client_id`):
// client ids never come back, so it stands until the last token it could have issued expired.
inline constexpr std::string_view kClientRevocationPrefix = "cid:";
inline std::string clientRevocationKey(std::string_view client_id) {
  std::string key(kClientRevocationPrefix);
  key += client_id;
  return key;
}

enum class RotateOutcome {
  Rotated,  // `presented_jti` was current; now `next_jti` is
  // `presented_jti` was an earlier token of the family: the session is now revoked, and its
  // access tokens with it (the session's revocation-list entry, in the same transaction)
  Reused,
  Inactive,   // no such session, already revoked, or expired
  GraceRace,  // the token just replaced, within the grace window (a second tab): refused, not
              // revoked
};

// Implementations MUST be thread-safe; rotate() is atomic (one transaction / compare-and-set).
class SessionStore {
 public:
  virtual ~SessionStore() = default;
  [[nodiscard]] virtual core::Status create(const Session& session) = 0;
  // `grace_seconds` > 0 lets the token replaced less than that long ago fail without revoking.
  // On reuse the session ends and, in the same transaction, its access tokens do: the entry
  // sessionRevocationKey(session_id) is stored until `tokens_until` (a crash or a lost
  // connection never leaves a session ended whose access tokens still work).
  [[nodiscard]] virtual core::Result<RotateOutcome> rotate(
      std::string_view session_id, std::string_view presented_jti, std::string_view next_jti,
      std::int64_t now, std::int64_t expires_at, std::int64_t grace_seconds,
      std::int64_t tokens_until) = 0;
  // Marks the session used without rotating.
  [[nodiscard]] virtual core::Status touch(std::string_view session_id, std::int64_t now) = 0;
  [[nodiscard]] virtual core::Result<std::optional<Session>> find(std::string_view session_id) = 0;
  // Live sessions of a user, newest first.
  [[nodiscard]] virtual core::Result<std::vector<Session>> listForUser(std::int64_t user_id,
                                                                       std::int64_t now) = 0;
  [[nodiscard]] virtual core::Status revoke(std::string_view session_id) = 0;
  // Deletes an ended session's row now, not at the retention purge: an OpenID grant the
  // per-client limit replaced (a client renewing in a loop piled up a row per renewal). A live
  // session stays. Readers take the missing row for an ended session.
  [[nodiscard]] virtual core::Status forgetEnded(std::string_view session_id) = 0;
  [[nodiscard]] virtual core::Status revokeAllForUser(std::int64_t user_id) = 0;
  // Deletes at most `limit` sessions that expired before `before`, or were ended and last used
  // before it; how many. Every reader takes a missing session for an ended one, except the
  // trade of a seed refresh token: the session it made (id "legacy-<digest>") is what keeps the
  // token spent, so with `keep_traded` (while seed tokens still trade) those stay.
  [[nodiscard]] virtual core::Result<std::int64_t> purgeEnded(std::int64_t before,
                                                              std::int64_t limit,
                                                              bool keep_traded) = 0;
};

// Revoked access-token ids with their expiry, so every node can rebuild its in-memory set.
class RevocationStore {
 public:
  virtual ~RevocationStore() = default;
  [[nodiscard]] virtual core::Status add(std::string_view jti, std::int64_t expires_at) = 0;
  [[nodiscard]] virtual core::Result<std::vector<std::pair<std::string, std::int64_t>>> active(
      std::int64_t now) = 0;
  // Drops the entries expired at `now`; a session whose entry goes is ended first (in the same
  // transaction), should its own end never have been written.
  [[nodiscard]] virtual core::Status purgeExpired(std::int64_t now) = 0;
};

// An API key as stored: only a SHA-256 of the secret, never the key itself.
struct ApiKey {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
  std::string name;
  std::string public_id;    // the recognisable, non-secret part ("gh_<public_id>_...")
  std::string secret_hash;  // hex SHA-256 of the whole key
  std::vector<std::string> scopes;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> expires_at;
  std::optional<std::int64_t> last_used_at;
  bool revoked = false;
};

// Implementations MUST be thread-safe.
class ApiKeyStore {
 public:
  virtual ~ApiKeyStore() = default;
  // Fills id; AlreadyExists if the public id collides; ResourceExhausted when the owner already
  // holds `max_live` keys neither revoked nor expired at `key.created_at`; NotFound when the owner
  // is gone, FailedPrecondition when inactive; Aborted unless `session_id` (the session of the
  // token that asks; none for the command line) is the owner's and not revoked (an access token
  // may outlive its session's refresh lifetime, as auth::currentAccount reads it).
  // Counted and inserted under one lock on the owner: racing creations never pass the limit
  // together, nor a deactivation, nor a reset that ends the asking session (checked before it, a
  // key made as the reset committed outlived it: a review).
  [[nodiscard]] virtual core::Result<ApiKey> create(ApiKey key, std::size_t max_live,
                                                    std::optional<std::string_view> session_id) = 0;
  [[nodiscard]] virtual core::Result<std::optional<ApiKey>> findByPublicId(
      std::string_view public_id) = 0;
  [[nodiscard]] virtual core::Result<std::optional<ApiKey>> findById(std::int64_t id) = 0;
  // The user's keys that are not revoked, newest first.
  [[nodiscard]] virtual core::Result<std::vector<ApiKey>> listForUser(std::int64_t user_id) = 0;
  // NotFound unless the key exists, belongs to `user_id` and is not yet revoked.
  [[nodiscard]] virtual core::Status revoke(std::int64_t id, std::int64_t user_id) = 0;
  [[nodiscard]] virtual core::Status touch(std::int64_t id, std::int64_t when) = 0;
  // Deletes at most `limit` keys that expired before `before`, or were revoked and last used (or,
  // never used, made) before it; how many. Each deletion is a change, as a revocation is.
  [[nodiscard]] virtual core::Result<std::int64_t> purgeDead(std::int64_t before,
                                                             std::int64_t limit) = 0;
  // Keys changed (revoked, deleted with their owner or purged) after `seq`; see UserStore.
  [[nodiscard]] virtual core::Result<ChangeLogRead> changesSince(std::int64_t seq) = 0;
  // As UserStore::purgeChanges.
  [[nodiscard]] virtual core::Result<std::int64_t> purgeChanges(std::int64_t before,
                                                                std::int64_t limit) = 0;
};

// A sign-in identity at an external OpenID provider: users are found by (issuer, subject), never
// by email.
struct Identity {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
  std::string provider;  // configured name ("google")
  std::string issuer;
  std::string subject;
  std::string email;  // as the provider gave it, verified or not
  std::int64_t created_at = 0;
  // The address the provider said it verified at the identity's last sign-in or linking ("" when
  // it verified none, and for identities from before migration 20 until their next sign-in). A
  // reset that sets an account's first password keeps only the identities whose verified address
  // is the account's (TokenEffect::ResetPassword).
  std::string verified_email;
};

// How long an identity a reset removed makes no account of its own (IdentityStore::removedFrom).
inline constexpr std::int64_t kRemovedIdentityDays = 30;

// Implementations MUST be thread-safe.
class IdentityStore {
 public:
  virtual ~IdentityStore() = default;
  // AlreadyExists when (issuer, subject) is taken.
  [[nodiscard]] virtual core::Result<Identity> create(Identity identity) = 0;
  [[nodiscard]] virtual core::Result<std::optional<Identity>> find(std::string_view issuer,
                                                                   std::string_view subject) = 0;
  [[nodiscard]] virtual core::Result<std::vector<Identity>> listForUser(std::int64_t user_id) = 0;
  // The account this identity was last removed from by a reset by mail or a password someone
  // else set (TokenEffect::ResetPassword, PasswordEnds::other_ways_in) within the last
  // kRemovedIdentityDays, unless it was linked again since (anywhere), unlinked, or that account
  // is gone or deactivated; nullopt otherwise. Such an identity makes no account of its own: its
  // owner signs in with the password and links it again. (Bounded in time and by the account's
  // state: one removed from an account its holder controls must not keep it out for good, a
  // review.)
  [[nodiscard]] virtual core::Result<std::optional<std::int64_t>> removedFrom(
      std::string_view issuer, std::string_view subject) = 0;
  // Records the address the provider verified at this sign-in ("" for none); a write only when it
  // differs from the stored one.
  [[nodiscard]] virtual core::Status noteVerifiedEmail(std::int64_t id,
                                                       std::string_view verified_email) = 0;
  // In one transaction: NotFound unless it is the user's; FailedPrecondition when it is the
  // user's last way to sign in (no password and no other identity). The removed (issuer, subject)
  // is remembered for the user (unlinkedBy) until the user is deleted.
  [[nodiscard]] virtual core::Status removeUnlessLast(std::int64_t id, std::int64_t user_id) = 0;
  // Whether the user removed this identity before: it then never links itself to that account
  // again by its email (the owner's unlinking would otherwise last until its next sign-in).
  [[nodiscard]] virtual core::Result<bool> unlinkedBy(std::int64_t user_id, std::string_view issuer,
                                                      std::string_view subject) = 0;
  // The account's owner links an identity (the account page's linking flow), in one transaction:
  // AlreadyExists when (issuer, subject) is anyone's, ResourceExhausted when the user holds `most`
  // identities already, FailedPrecondition unless `session_id` (the session that began the
  // linking) is the user's and live at the identity's created_at: checked in the transaction, so
  // a reset by mail, which ends the sessions and removes the identities in one, is either seen
  // here or removes this one (checked before, a link under way landed after the reset). The
  // user's memory of having unlinked it goes: their own choice undoes it.
  [[nodiscard]] virtual core::Result<Identity> linkByOwner(Identity identity, std::int64_t most,
                                                           std::string_view session_id) = 0;
  // Creates a password-less user and its identity together (AlreadyExists "email"/"username"/
  // "identity").
  [[nodiscard]] virtual core::Result<User> createUserWithIdentity(const NewUser& user,
                                                                  Identity identity) = 0;
};

// A second factor. `secret` is sealed (AES-256-GCM by the service): storage never sees it plain.
struct MfaFactor {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
  std::string type;  // "totp"
  std::string name;
  std::string secret;
  bool confirmed = false;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> last_used_at;
  // TOTP: the last time step accepted (each is accepted once). A passkey: its signature counter.
  std::int64_t last_step = 0;
  // A passkey (type "webauthn"): its credential id (base64url, unique across users) and what
  // the relying party recorded of it (JSON: public key, algorithm, AAGUID, backup flags,
  // transports, attestation). Empty for TOTP.
  std::string credential_id;
  std::string passkey;
};

// Second factors and recovery codes (stored as keyed digests). Thread-safe.
class MfaStore {
 public:
  virtual ~MfaStore() = default;
  // Fills id. Every unconfirmed factor of the user is dropped first (one enrolment at a time: an
  // abandoned one holds no place), and ResourceExhausted when the user already holds
  // `max_factors` confirmed factors (state stays bounded: at most one more, unconfirmed).
  [[nodiscard]] virtual core::Result<MfaFactor> create(MfaFactor factor,
                                                       std::int64_t max_factors) = 0;
  [[nodiscard]] virtual core::Result<std::vector<MfaFactor>> listForUser(std::int64_t user_id) = 0;
  [[nodiscard]] virtual core::Result<std::optional<MfaFactor>> find(std::int64_t id) = 0;
  // In one transaction: NotFound unless the factor is the user's and unconfirmed;
  // ResourceExhausted when the user already holds `max_factors` confirmed factors; confirms it
  // with `step` as its last accepted step, sets the user's mfa_enabled, and when the user had no
  // confirmed factor before, stores `recovery_hashes` as their recovery codes (replacing any).
  // True when the codes were stored (the first factor).
  [[nodiscard]] virtual core::Result<bool> confirm(std::int64_t id, std::int64_t user_id,
                                                   std::int64_t step, std::int64_t now,
                                                   const std::vector<std::string>& recovery_hashes,
                                                   std::int64_t max_factors) = 0;
  // Compare-and-set: records `step` as used when it is later than the factor's last accepted one.
  // False when it is not (a replay, on any node), or the factor is gone or unconfirmed.
  [[nodiscard]] virtual core::Result<bool> useStep(std::int64_t id, std::int64_t step,
                                                   std::int64_t now) = 0;
  // In one transaction: NotFound unless the user's; deletes it and, when no confirmed factor
  // remains, the recovery codes and the user's mfa_enabled. True when it was confirmed (an
  // enrolment left unfinished is no way in: its removal is nobody's news).
  [[nodiscard]] virtual core::Result<bool> remove(std::int64_t id, std::int64_t user_id) = 0;
  // Every factor, recovery code and counted code attempt of the user, and mfa_enabled, in one
  // transaction; how many confirmed factors went. With `role_is`, only while the user's role is
  // still that one (the role an actor's rights were judged against): Aborted otherwise, nothing
  // removed; NotFound when the user is gone.
  [[nodiscard]] virtual core::Result<std::int64_t> removeAll(
      std::int64_t user_id, std::optional<std::string_view> role_is) = 0;
  // In one transaction: the user's recovery codes become exactly these.
  [[nodiscard]] virtual core::Status replaceRecoveryCodes(
      std::int64_t user_id, const std::vector<std::string>& hashes) = 0;
  // Compare-and-set: marks the code used; false when it is unknown or was used (on any node).
  [[nodiscard]] virtual core::Result<bool> useRecoveryCode(std::int64_t user_id,
                                                           std::string_view hash,
                                                           std::int64_t now) = 0;
  [[nodiscard]] virtual core::Result<std::int64_t> recoveryCodesLeft(std::int64_t user_id) = 0;
  // MFA_LOCKOUT_THRESHOLD's count of the user's guessable codes (TOTP, recovery codes) tried in
  // a row, in the database (every node, every restart, no expiry, whatever the password): one
  // more, in one statement, unless `threshold` are counted already. The count with this attempt,
  // or nullopt when the codes are locked. A password change leaves it; removeAll (an
  // administrator's reset) and clearCodeAttempts take it away.
  [[nodiscard]] virtual core::Result<std::optional<std::int64_t>> countCodeAttempt(
      std::int64_t user_id, std::int64_t threshold) = 0;
  // The owner proved the second factor (a right code, a passkey): the count starts again.
  [[nodiscard]] virtual core::Status clearCodeAttempts(std::int64_t user_id) = 0;

  // In one transaction: `factor` (a passkey) stored confirmed; ResourceExhausted when the user
  // holds `max_factors` factors, AlreadyExists when its credential id is registered (to anyone),
  // Aborted unless `session_id` (the registering session) is the user's and not revoked, read
  // after the lock on the user (a reset by mail committing meanwhile is seen, or
  // makes this passkey a second factor only: a review); the user's mfa_enabled set and, when it
  // is their first confirmed factor, `recovery_hashes` stored as their recovery codes. The factor
  // with its id, and whether the codes were stored.
  [[nodiscard]] virtual core::Result<std::pair<MfaFactor, bool>> addConfirmed(
      MfaFactor factor, std::int64_t max_factors, const std::vector<std::string>& recovery_hashes,
      std::string_view session_id) = 0;
  // The confirmed factor with that credential id.
  [[nodiscard]] virtual core::Result<std::optional<MfaFactor>> findByCredential(
      std::string_view credential_id) = 0;
  // Compare-and-set of a passkey's signature counter, on every node: true when `count` is above
  // the stored one, or both are 0 (an authenticator without a counter), and the record is still
  // `read` (the one the signature was checked against); then `passkey` (its backup state may
  // change) and last_used_at are recorded. False for a counter that did not grow, a record
  // changed meanwhile (a reset marking it second_factor_only: written back, the stale record
  // undid the mark, found by an outside attack), or a factor gone.
  [[nodiscard]] virtual core::Result<bool> useSignCount(std::int64_t id, std::int64_t count,
                                                        std::string_view read,
                                                        std::string_view passkey,
                                                        std::int64_t now) = 0;
  // NotFound unless the factor is the user's.
  [[nodiscard]] virtual core::Status rename(std::int64_t id, std::int64_t user_id,
                                            std::string_view name) = 0;
};

// A one-time email token (password reset, email verification, email change) as stored: only its
// keyed digest, never the token.
struct EmailToken {
  std::string hash;
  std::int64_t user_id = 0;
  std::string purpose;  // "reset", "verify" or "change"
  std::string email;    // where it was sent: the user's address, or the new one for "change"
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
};

// A message in the outbox. `body` is the whole RFC 5322 message sealed by the mail service
// (it holds a token's link until sent); storage keeps it only until the message is sent or
// abandoned.
struct OutboxMessage {
  std::int64_t id = 0;
  std::string kind;  // the template ("reset-password"), for logs and audit
  std::string sender;
  std::string recipient;
  std::optional<std::int64_t> user_id;
  std::string body;
  std::int64_t created_at = 0;
  std::int64_t attempts = 0;  // attempts begun, this claim's included
  std::int64_t claimed_until = 0;
  std::int64_t expires_at = 0;  // 0: never; after it the message is pointless (its link expired)
};

// What spending a token does, in the same transaction as spending it.
struct TokenEffect {
  enum class Kind {
    VerifyEmail,    // email_verified, while the user's address is still the token's
    ResetPassword,  // the new hash, every session and (with end_api_keys) API key ended,
                    // earlier tokens voided, email_verified (the mail proved it). The ways in
                    // that sign in alone and that whoever held the account before may have added
                    // (a squatter who registered the owner's address, a thief with a stolen
                    // session) end too: the linked identities go, and the passkeys stay second
                    // factors only (their record's "second_factor_only": the reset's prover may
                    // be a mailbox thief, whom a removed passkey would let past the owner's
                    // second factor). Authenticator apps stay. Whether the address was verified
                    // before tells nothing: the owner may have followed a verification link the
                    // squatter asked for (an outside attack). A first password (an account made
                    // by external sign-in, which had none) keeps the identities whose provider
                    // verified the account's address (Identity::verified_email, compared as
                    // sameAddress): the identity it was made with is its owner's. Any other goes
                    // (its holder may have moved the account's address to the reader's: an
                    // outside attack), and the passkeys stay second factors only, as at any reset
                    // (one a session thief added would sign in on its own: a review).
    ChangeEmail,    // the token's address becomes the user's, verified, and address_moved
  };
  Kind kind = Kind::VerifyEmail;
  std::string password_hash;  // ResetPassword
  bool end_api_keys = true;   // ResetPassword
  // ResetPassword, when set: how many linked identities a first password removed, and whether the
  // account had a password (then every identity went), as the reset's transaction saw them.
  std::int64_t* identities_removed = nullptr;
  bool* had_password = nullptr;
};

// Email tokens and the outbox. Thread-safe; every method is one transaction.
class MailStore {
 public:
  virtual ~MailStore() = default;
  // The token (unless its hash is empty) and the messages together. Live tokens of the same user
  // and purpose beyond the newest `keep - 1` are dropped first (state stays bounded). With
  // `live_session`, FailedPrecondition unless that session is still live when the token is
  // written (not ended, and not expired at the token's `created_at`): a request racing the
  // session's end (a reset, a password change) writes nothing, instead of leaving a token that
  // ending every session no longer finds.
  [[nodiscard]] virtual core::Status issue(const EmailToken& token,
                                           const std::vector<OutboxMessage>& messages,
                                           std::int64_t keep,
                                           std::string_view live_session = {}) = 0;
  // A registration whose verification mail is in the same transaction as the user (the token's
  // user_id is filled). AlreadyExists "email"/"username" as UserStore::create.
  [[nodiscard]] virtual core::Result<User> createUser(
      const NewUser& user, EmailToken token, const std::vector<OutboxMessage>& messages) = 0;
  // The live token of `purpose` with this hash, without spending it; nullopt when there is none.
  [[nodiscard]] virtual core::Result<std::optional<EmailToken>> findToken(std::string_view hash,
                                                                          std::string_view purpose,
                                                                          std::int64_t now) = 0;
  // Spends the live token (compare-and-delete: once, on every node) and applies `effect`; every
  // other token of that user and purpose goes too. NotFound when there is no such live token, its
  // user is inactive or (reset, verify) the user's address is no longer the token's;
  // AlreadyExists "email" when a change's address is taken by now (nothing is spent then).
  // The user as changed.
  [[nodiscard]] virtual core::Result<User> redeem(std::string_view hash, std::string_view purpose,
                                                  std::int64_t now, const TokenEffect& effect) = 0;
  // Claims the oldest due message for `lease` seconds for sender `node` (on PostgreSQL with FOR
  // UPDATE SKIP LOCKED: each message goes to exactly one sender) and counts the attempt; nullopt
  // when none is due. Due: pending, next attempt reached, and no live claim.
  [[nodiscard]] virtual core::Result<std::optional<OutboxMessage>> claim(std::int64_t now,
                                                                         std::int64_t lease,
                                                                         std::string_view node) = 0;
  // Ends the live claims of `node` (a sender starting again: its earlier life died holding them,
  // so they need not wait out their lease); how many.
  [[nodiscard]] virtual core::Result<std::int64_t> release(std::string_view node) = 0;
  // Marks a claimed message sent (its body is dropped). False when it was not pending.
  [[nodiscard]] virtual core::Result<bool> markSent(std::int64_t id, std::int64_t now) = 0;
  // A failed attempt: the claim ends, the next attempt waits until `next_attempt_at`.
  [[nodiscard]] virtual core::Status retryLater(std::int64_t id, std::int64_t next_attempt_at,
                                                std::string_view error) = 0;
  // Gives the message up (its body is dropped).
  [[nodiscard]] virtual core::Status abandon(std::int64_t id, std::int64_t now,
                                             std::string_view error) = 0;
  // Messages not yet sent nor abandoned.
  [[nodiscard]] virtual core::Result<std::int64_t> pending() = 0;
  // Drops expired tokens and messages finished before `finished_before`.
  [[nodiscard]] virtual core::Status purge(std::int64_t now, std::int64_t finished_before) = 0;
};

// One audit record as stored; `hash` chains it to the record before (tamper evidence), and `mac`
// keys that hash under a key the database does not hold ("" for a record written without one:
// before migration 15, or by a node or command that predates it).
struct AuditRecord {
  std::int64_t id = 0;
  std::int64_t time_ms = 0;
  std::string type;
  std::string request_id;
  std::optional<std::int64_t> actor_id;
  std::optional<std::int64_t> subject_id;
  std::string client_ip;
  std::string user_agent;
  std::string detail;  // serialized JSON object
  std::string prev_hash;
  std::string hash;
  std::string mac;
};

struct AuditQuery {
  std::optional<std::string> type;
  std::optional<std::int64_t> user_id;  // actor or subject
  std::optional<std::int64_t> since_ms;
  std::optional<std::int64_t> before_id;  // the next page: records older than this id
  std::int64_t limit = 100;
};

// The WHERE clause of an audit query, each filter either its condition or, absent, a test of its
// NULL parameter: (placeholder(1) IS NULL OR type = ...) kept every index out of the plan, so each
// filter read the whole table (an outside attack: 270-620 ms a query at 2 million records, the
// server slowed for everyone). `placeholder(n)` spells parameter n (1: type, 2: user, 3: since,
// 4: before) in the store's dialect.
template <class Placeholder>
std::string auditWhere(const AuditQuery& q, Placeholder placeholder) {
  const auto p = [&](int n) { return std::string(placeholder(n)); };
  std::string sql = "WHERE ";
  sql += q.type ? "type = " + p(1) : p(1) + " IS NULL";
  sql += q.user_id ? " AND (actor_id = " + p(2) + " OR subject_id = " + p(2) + ")"
                   : " AND " + p(2) + " IS NULL";
  // From a time: also past the newest record stamped more than an hour before it, one seek in
  // the time index, so the newest-first walk stops there instead of reading the table to its
  // start when few records match. Exact unless a record was appended more than an hour after a
  // record stamped later (a command on a host whose clock is an hour slow). Two reviews: a bound
  // from the first record at or after the time lost a record appended earlier with a later time
  // (concurrent appenders); MIN(id) of those records walked every older row (136 ms at 2
  // million records, where this takes 0.2).
  sql += q.since_ms ? " AND time_ms >= " + p(3) +
                          " AND id > COALESCE((SELECT id FROM audit_events WHERE time_ms < " +
                          p(3) + " - 3600000 ORDER BY time_ms DESC LIMIT 1), 0)"
                    : " AND " + p(3) + " IS NULL";
  sql += q.before_id ? " AND id < " + p(4) : " AND " + p(4) + " IS NULL";
  return sql;
}

struct DailyCount {
  std::string day;  // YYYY-MM-DD (UTC)
  std::int64_t count = 0;
};

// Append-only audit storage. Implementations MUST be thread-safe; append() reads the last
// record's hash and inserts the next one in one transaction.
class AuditStore {
 public:
  virtual ~AuditStore() = default;
  // Fills id and prev_hash, calls `seal` to fill hash and mac, and inserts (nothing when `seal`
  // fails: its error is returned).
  [[nodiscard]] virtual core::Result<AuditRecord> append(
      AuditRecord record, const std::function<core::Status(AuditRecord&)>& seal) = 0;
  // Newest first.
  [[nodiscard]] virtual core::Result<std::vector<AuditRecord>> query(const AuditQuery& q) = 0;
  // Every record, oldest first, `batch` at a time through `visit` (stops when it returns false).
  [[nodiscard]] virtual core::Status scan(const std::function<bool(const AuditRecord&)>& visit) = 0;
  [[nodiscard]] virtual core::Result<std::int64_t> countSince(std::string_view type,
                                                              std::int64_t since_ms) = 0;
  [[nodiscard]] virtual core::Result<std::int64_t> distinctSubjectsSince(std::string_view type,
                                                                         std::int64_t since_ms) = 0;
  [[nodiscard]] virtual core::Result<std::vector<DailyCount>> perDaySince(
      std::string_view type, std::int64_t since_ms) = 0;
};

// A relying party of Gatehouse as an OpenID Provider (API.md, Gatehouse as an OpenID Provider).
struct OpClient {
  std::string client_id;
  std::string name;
  std::string secret_hash;  // keyed digest of the secret (never the secret); empty when public
  std::vector<std::string> redirect_uris;              // matched exactly
  std::vector<std::string> post_logout_redirect_uris;  // matched exactly
  std::vector<std::string> grant_types;  // authorization_code, refresh_token, client_credentials
  std::string scope;                     // what it may ask for, space-separated
  bool is_public = false;                // no secret: PKCE S256 required
  bool first_party = false;              // no consent screen
  std::int64_t created_at = 0;
  std::int64_t secret_rotated_at = 0;
};

// An authorization code as stored: only its keyed digest. `data` is the authorization the code
// stands for (serialized JSON: redirect URI, scope, nonce, PKCE challenge, auth_time, amr), read
// only by the provider service.
struct OpCode {
  std::string hash;
  std::string client_id;
  std::int64_t user_id = 0;
  std::string data;
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
};

struct CodeRedemption {
  enum class Outcome {
    Redeemed,  // first use: the code is now spent, recorded with the grant's session
    Replayed,  // spent before (on any node): `session_id` is the grant the first use started
    Unknown,   // no such code, or expired unused
  };
  Outcome outcome = Outcome::Unknown;
  OpCode code;             // Redeemed and Replayed
  std::string session_id;  // Replayed
};

// Clients, consents, authorization codes and the provider's sealed signing key. Thread-safe;
// every method is one transaction.
class OpStore {
 public:
  virtual ~OpStore() = default;
  // AlreadyExists when the client id is taken; ResourceExhausted when `max_clients` are held
  // already (counted and inserted under one lock: racing creations never pass it together).
  [[nodiscard]] virtual core::Result<OpClient> createClient(const OpClient& client,
                                                            std::size_t max_clients) = 0;
  [[nodiscard]] virtual core::Result<std::optional<OpClient>> findClient(
      std::string_view client_id) = 0;
  // Every client, by creation time.
  [[nodiscard]] virtual core::Result<std::vector<OpClient>> listClients() = 0;
  // In one transaction: the client's consents and codes go with it, its live grants (the
  // sessions whose user_agent is `grant_label`) end, and its access tokens do
  // (clientRevocationKey, stored until `tokens_until`). How many grants ended; NotFound.
  [[nodiscard]] virtual core::Result<std::int64_t> removeClient(std::string_view client_id,
                                                                std::string_view grant_label,
                                                                std::int64_t tokens_until) = 0;
  // NotFound, or FailedPrecondition for a public client (it has no secret).
  [[nodiscard]] virtual core::Status setClientSecret(std::string_view client_id,
                                                     std::string_view secret_hash,
                                                     std::int64_t now) = 0;
  // The scope the user consented to for the client (replaced by a later consent).
  [[nodiscard]] virtual core::Status saveConsent(std::int64_t user_id, std::string_view client_id,
                                                 std::string_view scope, std::int64_t now) = 0;
  // The consented scope, nullopt when none was given.
  [[nodiscard]] virtual core::Result<std::optional<std::string>> findConsent(
      std::int64_t user_id, std::string_view client_id) = 0;
  // AlreadyExists when the hash is taken.
  [[nodiscard]] virtual core::Status putCode(const OpCode& code) = 0;
  // The code of `client_id` with this hash, spent or not, as redeemCode would find it: nullopt
  // for none, another client's, or one expired unused. Only reads, so what the client presents
  // (redirect URI, PKCE verifier) is checked before the code is spent.
  [[nodiscard]] virtual core::Result<std::optional<OpCode>> findCode(std::string_view hash,
                                                                     std::string_view client_id,
                                                                     std::int64_t now) = 0;
  // Spends the code of `client_id` (compare-and-set: once, on every node) and records
  // `session_id` as the grant it starts; a spent code reports Replayed with the first grant for
  // as long as it is kept. Another client's code is Unknown and stays as it was (whoever holds a
  // code cannot spend or end another client's grant with it).
  [[nodiscard]] virtual core::Result<CodeRedemption> redeemCode(std::string_view hash,
                                                                std::string_view client_id,
                                                                std::string_view session_id,
                                                                std::int64_t now) = 0;
  // Drops codes that expired before `before` (spent ones included): state stays bounded.
  [[nodiscard]] virtual core::Status purgeCodes(std::int64_t before) = 0;
  // The provider's signing key (sealed by the caller): `candidate` is stored unless a key is
  // already, and the stored one is returned (every node ends up with the same key). An empty
  // candidate only reads: "" when no key is stored yet.
  [[nodiscard]] virtual core::Result<std::string> signingKey(std::string_view candidate,
                                                             std::int64_t now) = 0;
};

// A generated key kept in the database, sealed by the caller (keyring/): the API's token signing
// keys and the never-rotated master secret, shared by every node on the database.
struct StoredKey {
  std::string purpose;          // "token" or "master"
  std::string alg;              // the JOSE algorithm of a token key; "" for the master secret
  std::int64_t generation = 0;  // 1, 2, ... within (purpose, alg)
  std::string kid;
  std::string sealed;  // base64url
  std::int64_t created_at = 0;
  std::int64_t signs_from = 0;  // before it: published for verification only
};

class KeyRingStore {
 public:
  virtual ~KeyRingStore() = default;
  // Every stored key, by purpose, alg and generation.
  [[nodiscard]] virtual core::Result<std::vector<StoredKey>> list() = 0;
  // Adds all of `keys` in one transaction, or none: AlreadyExists when one's (purpose, alg,
  // generation) is taken (a racing node or rotation stored it first).
  [[nodiscard]] virtual core::Status add(const std::vector<StoredKey>& keys) = 0;
  // Adds `key` and deletes every older key of its (purpose, alg), in one transaction (a
  // compromised ring replaced: a crash between the two left the old keys verifying, unseen).
  // AlreadyExists as add.
  [[nodiscard]] virtual core::Status replace(const StoredKey& key) = 0;
  // Deletes the keys of (purpose, alg) older than `generation`.
  [[nodiscard]] virtual core::Status removeBelow(std::string_view purpose, std::string_view alg,
                                                 std::int64_t generation) = 0;
};

// The migrations this version applies, the same number on each backend.
inline constexpr int kSchemaVersion = 22;

// What to say about a database at schema `version` (what migrate() returned) when a newer
// version migrated it; nullopt when it is this version's. Older nodes run on during a roll-out;
// an older binary on a newer schema said nothing, and its `migrate` printed its own number (an
// outside attack on upgrades).
inline std::optional<std::string> newerSchemaWarning(int version) {
  if (version <= kSchemaVersion) return std::nullopt;
  return "the database's schema is at version " + std::to_string(version) +
         ", newer than this version's " + std::to_string(kSchemaVersion) +
         ": a newer Gatehouse migrated it. Running beside newer nodes during a roll-out works; "
         "going back to this version does not (docs/deployment.md, Upgrades)";
}

// One backend's repositories. Thread-safe.
class Store {
 public:
  virtual ~Store() = default;
  virtual UserStore& users() = 0;
  virtual SessionStore& sessions() = 0;
  virtual RevocationStore& revocations() = 0;
  virtual AuditStore& audit() = 0;
  virtual ApiKeyStore& apiKeys() = 0;
  virtual IdentityStore& identities() = 0;
  virtual MfaStore& mfa() = 0;
  virtual MailStore& mail() = 0;
  virtual OpStore& op() = 0;
  virtual KeyRingStore& keyRing() = 0;
  // Unavailable when the database cannot be reached (readiness).
  [[nodiscard]] virtual core::Status ping() = 0;
  // Unavailable once the database's files are no longer whole under this process (SQLite: its
  // WAL file removed or replaced while open), after which it writes nothing more; the server asks
  // twice a second, and ping() answers it too. Nothing to watch on PostgreSQL.
  [[nodiscard]] virtual core::Status intact() { return {}; }
  // Applies pending schema migrations; returns the schema version now in place: the newest
  // recorded, which is above kSchemaVersion when a newer version migrated the database.
  [[nodiscard]] virtual core::Result<int> migrate() = 0;
  // Whether the database holds what only its master secret opens or checks: second factors,
  // recovery codes, queued mail, emailed links, OpenID clients (their secrets' digests), the
  // provider's key, or keyed audit records (the latest). A start that finds no master secret
  // must then not make a new one (an upgrade attack: one made silently locked every second
  // factor out, for good).
  [[nodiscard]] virtual core::Result<bool> holdsMasterKeyedData() = 0;
};

// The query behind Store::holdsMasterKeyedData, the same on both backends: 1 or 0.
inline constexpr std::string_view kMasterKeyedDataQuery =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM mfa_factors) OR EXISTS (SELECT 1 FROM recovery_codes)"
    " OR EXISTS (SELECT 1 FROM mail_outbox) OR EXISTS (SELECT 1 FROM email_tokens)"
    " OR EXISTS (SELECT 1 FROM op_keys) OR EXISTS (SELECT 1 FROM op_clients)"
    " OR EXISTS (SELECT 1 FROM (SELECT mac FROM audit_events ORDER BY id DESC LIMIT 1) latest"
    " WHERE latest.mac <> '') THEN 1 ELSE 0 END";

// Opens the backend named by a DATABASE_URL (sqlite:///path, or postgresql://... / postgres://...
// in libpq's URI form). InvalidArgument for unsupported URLs, Unavailable when the database cannot
// be opened (PostgreSQL connects lazily: its first use reports that).
// `pool_size` is the number of PostgreSQL connections (SQLite uses its own fixed pool).
[[nodiscard]] core::Result<std::unique_ptr<Store>> openStore(const std::string& database_url,
                                                             std::size_t pool_size = 8);

}  // namespace gatehouse::store
