#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
};

struct NewUser {
  std::string email;
  std::string username;
  std::string password_hash;
  std::string role;
  bool is_active = true;
};

struct UserPatch {
  std::optional<std::string> email;
  std::optional<std::string> username;
  std::optional<bool> is_active;
  std::optional<std::string> role;
};

// Users, unique by email and by username (both case-insensitive), enforced by the database.
// Implementations MUST be thread-safe.
class UserStore {
 public:
  virtual ~UserStore() = default;
  // AlreadyExists with message "email" or "username" on a duplicate.
  virtual core::Result<User> create(const NewUser& user) = 0;
  virtual core::Result<std::optional<User>> findById(std::int64_t id) = 0;
  virtual core::Result<std::optional<User>> findByEmail(std::string_view email) = 0;
  virtual core::Result<std::optional<User>> findByUsername(std::string_view username) = 0;
  virtual core::Result<std::vector<User>> list(std::int64_t limit, std::int64_t offset) = 0;
  virtual core::Result<std::int64_t> count() = 0;
  // In one transaction: NotFound, AlreadyExists("email"/"username"), or FailedPrecondition when
  // the change would leave no active user with role `protected_role`.
  virtual core::Result<User> update(std::int64_t id, const UserPatch& patch,
                                    std::string_view protected_role) = 0;
  // NotFound, or FailedPrecondition when it would remove the last active `protected_role`.
  virtual core::Status remove(std::int64_t id, std::string_view protected_role) = 0;
  virtual core::Status setPasswordHash(std::int64_t id, std::string_view hash) = 0;
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
};

enum class RotateOutcome {
  Rotated,   // `presented_jti` was current; now `next_jti` is
  Reused,    // `presented_jti` was an earlier token of the family: the session is now revoked
  Inactive,  // no such session, already revoked, or expired
};

// Implementations MUST be thread-safe; rotate() is atomic (one transaction / compare-and-set).
class SessionStore {
 public:
  virtual ~SessionStore() = default;
  virtual core::Status create(const Session& session) = 0;
  virtual core::Result<RotateOutcome> rotate(std::string_view session_id,
                                             std::string_view presented_jti,
                                             std::string_view next_jti, std::int64_t now,
                                             std::int64_t expires_at) = 0;
  virtual core::Result<std::optional<Session>> find(std::string_view session_id) = 0;
  // Live sessions of a user, newest first.
  virtual core::Result<std::vector<Session>> listForUser(std::int64_t user_id,
                                                         std::int64_t now) = 0;
  virtual core::Status revoke(std::string_view session_id) = 0;
  virtual core::Status revokeAllForUser(std::int64_t user_id) = 0;
};

// Revoked access-token ids with their expiry, so every node can rebuild its in-memory set.
class RevocationStore {
 public:
  virtual ~RevocationStore() = default;
  virtual core::Status add(std::string_view jti, std::int64_t expires_at) = 0;
  virtual core::Result<std::vector<std::pair<std::string, std::int64_t>>> active(
      std::int64_t now) = 0;
  virtual core::Status purgeExpired(std::int64_t now) = 0;
};

// One backend's repositories. Thread-safe.
class Store {
 public:
  virtual ~Store() = default;
  virtual UserStore& users() = 0;
  virtual SessionStore& sessions() = 0;
  virtual RevocationStore& revocations() = 0;
  // Unavailable when the database cannot be reached (readiness).
  virtual core::Status ping() = 0;
  // Applies pending schema migrations; returns the schema version now in place.
  virtual core::Result<int> migrate() = 0;
};

// Opens the backend named by a DATABASE_URL (sqlite:///path). InvalidArgument for unsupported
// URLs, Unavailable when the database cannot be opened.
core::Result<std::unique_ptr<Store>> openStore(const std::string& database_url);

}  // namespace gatehouse::store
