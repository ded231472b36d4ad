#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/cache_trust.hpp"
#include "auth/client_info.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"
#include "auth/user_cache.hpp"
#include "core/clock.hpp"
#include "rbac/policy.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// Keys look like gh_<16 hex public id>_<43 base64url secret>: 256 bits from the CSPRNG, a prefix
// secret scanners recognise, and a public id for lookup. Only the SHA-256 is stored.
inline constexpr std::string_view kApiKeyPrefix = "gh_";

struct NewApiKey {
  std::string name;
  std::optional<std::vector<std::string>> scopes;  // default: the owner's permissions
  std::optional<std::int64_t> expires_in_days;
};

struct CreatedApiKey {
  store::ApiKey key;
  std::string plaintext;  // shown once, never stored or logged
};

// The public part of a key ("gh_<public id>"), or nullopt when `key` is not key-shaped.
std::optional<std::string> apiKeyPublicPart(std::string_view key);

// API keys: creation, listing, revocation and authentication. Valid keys are served from memory
// (no storage round-trip) within a window of the last successful read of the change log
// (trustFor); revocations here apply at once, elsewhere through that log (sync(), twice a
// second). last_used_at is written at most once a minute per key, and "used" audit events at
// most once an hour per key. Thread-safe.
class ApiKeyService {
 public:
  ApiKeyService(store::Store& store, const rbac::Policy& policy, UserCache& users,
                audit::AuditLog& audit, const core::Clock& clock, std::size_t max_per_user = 100,
                bool email_verification_required = false)
      : store_(store),
        policy_(policy),
        users_(users),
        audit_(audit),
        clock_(clock),
        max_per_user_(max_per_user),
        email_verification_required_(email_verification_required) {}

  // Validation: empty or long name, scopes outside `owner_permissions`, bad expiry; ApiKeyLimit
  // when the owner already holds `max_per_user` live keys; InvalidToken when `session` (that of
  // the token asking; none for the command line) ended before the key was stored.
  [[nodiscard]] Result<CreatedApiKey> create(const store::User& owner,
                                             const std::vector<std::string>& owner_permissions,
                                             const NewApiKey& request,
                                             std::optional<std::string_view> session,
                                             const ClientInfo& client);
  [[nodiscard]] Result<std::vector<store::ApiKey>> list(std::int64_t user_id);
  // NotFound (as ApiKeyNotFound) unless the key is the user's and live.
  [[nodiscard]] Result<void> revoke(std::int64_t user_id, std::int64_t key_id,
                                    const ClientInfo& client);
  // Drops `user_id`'s keys from this node's cache after storage revoked them (a deactivation or
  // a password change), and pokes the other nodes.
  void forgetUser(std::int64_t user_id);
  // The owner limited to the key's scopes: InvalidToken for unknown, malformed, expired or
  // revoked keys and for keys whose owner is gone; InactiveUser for an inactive owner;
  // WouldBlock with Wait::No when the answer needs storage.
  [[nodiscard]] Result<Principal> authenticate(std::string_view key, const ClientInfo& client,
                                               core::Wait wait = core::Wait::Yes);
  [[nodiscard]] core::Status sync();
  // As UserCache::trustFor: past `window` from the last successful sync, keys are read from
  // storage.
  void trustFor(std::chrono::nanoseconds window, CacheTrust::Now clock = &CacheTrust::steadyNow) {
    log_.limit(window, clock);
  }
  // Keys whose last use this node remembers (for a minute's touch and an hour's audit).
  std::size_t usesRemembered();
  // Called after this process revoked a key or forgot a user's keys, with changeMessage(owner):
  // the server publishes it, and each other node's applyMessage drops that owner's keys at once
  // (its next read of the change log follows). Set before serving.
  void onChange(std::function<void(std::string_view message)> hook) {
    on_change_ = std::move(hook);
  }
  static std::string changeMessage(std::int64_t user_id);
  // Drops the keys of the owner a changeMessage names from this node's cache (the next use reads
  // storage); false when `message` is not one.
  bool applyMessage(std::string_view message);

 private:
  void dropOwner(std::int64_t user_id);
  // What a use of a key records at `now`: its last-use time (at most once a minute) and a "used"
  // audit event (at most hourly). Claimed under one lock, so two threads never both record; with
  // Wait::No nothing is claimed and nullopt says something is due (the use goes to a worker).
  struct DueUse {
    bool touch = false;
    bool audit = false;
  };
  std::optional<DueUse> claimUse(std::int64_t key_id, std::int64_t now, core::Wait wait);
  void recordUse(const store::ApiKey& key, const ClientInfo& client, std::int64_t now, DueUse due);

  store::Store& store_;
  const rbac::Policy& policy_;
  UserCache& users_;
  audit::AuditLog& audit_;
  const core::Clock& clock_;
  const std::size_t max_per_user_;
  // EMAIL_VERIFICATION=required: the key of an owner whose address is unverified is refused
  // (EmailNotVerified), as that owner's sessions stop refreshing; a key has no expiry to wait for.
  const bool email_verification_required_;

  std::shared_mutex mutex_;
  std::unordered_map<std::string, store::ApiKey> by_public_id_;
  std::uint64_t generation_ = 0;  // bumped under mutex_ by every removal from the cache
  // The last uses (touched, audited) in two generations, under use_mutex_. A due claim at or
  // after rotate_at_ drops the older one, whose every entry is then over an hour old and would
  // answer as a missing one, and starts a new one: memory holds the keys used in the last two
  // hours or so, and no claim scans it (an I/O thread waiting on use_mutex_ never waits for one).
  using Uses = std::unordered_map<std::int64_t, std::pair<std::int64_t, std::int64_t>>;
  static constexpr std::int64_t kUseGeneration = 3600;  // the audit's hour
  std::mutex use_mutex_;
  Uses recent_uses_;
  Uses older_uses_;
  std::int64_t rotate_at_ = 0;
  LogFollower log_;
  std::function<void(std::string_view)> on_change_;
};

}  // namespace gatehouse::auth
