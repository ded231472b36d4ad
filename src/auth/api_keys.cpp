#include "auth/api_keys.hpp"

#include <algorithm>
#include <unordered_set>

#include "core/base64url.hpp"
#include "core/utf8.hpp"
#include "crypto/digest.hpp"
#include "crypto/random.hpp"

namespace gatehouse::auth {
namespace {

constexpr std::size_t kPublicIdHex = 16;
constexpr std::size_t kSecretChars = 43;  // 32 bytes, base64url

bool isHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string hashKey(std::string_view key) { return core::hexEncode(crypto::sha256(key)); }

}  // namespace

std::optional<std::string> apiKeyPublicPart(std::string_view key) {
  if (key.size() != kApiKeyPrefix.size() + kPublicIdHex + 1 + kSecretChars ||
      !key.starts_with(kApiKeyPrefix)) {
    return std::nullopt;
  }
  const std::string_view public_id = key.substr(kApiKeyPrefix.size(), kPublicIdHex);
  if (!isHex(public_id) || key[kApiKeyPrefix.size() + kPublicIdHex] != '_') return std::nullopt;
  if (!core::base64urlDecode(key.substr(kApiKeyPrefix.size() + kPublicIdHex + 1)))
    return std::nullopt;
  return std::string(public_id);
}

Result<CreatedApiKey> ApiKeyService::create(const store::User& owner,
                                            const std::vector<std::string>& owner_permissions,
                                            const NewApiKey& request,
                                            std::optional<std::string_view> session,
                                            const ClientInfo& client) {
  std::vector<FieldError> errors;
  if (request.name.empty() || request.name.size() > 100) {
    errors.push_back({{"body", "name"}, "name must be 1 to 100 characters", "value_error.name"});
  } else if (!core::isDisplayText(request.name)) {  // shown on the account page and in lists
    errors.push_back({{"body", "name"},
                      "name must be text that shows, without control or invisible characters",
                      "value_error.name"});
  }
  std::vector<std::string> scopes = request.scopes.value_or(owner_permissions);
  std::sort(scopes.begin(), scopes.end());
  scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
  for (const auto& s : scopes) {
    if (std::find(owner_permissions.begin(), owner_permissions.end(), s) ==
        owner_permissions.end()) {
      errors.push_back(
          {{"body", "scopes"}, "scope not among your permissions: " + s, "value_error.scope"});
    }
  }
  if (request.expires_in_days &&
      (*request.expires_in_days < 1 || *request.expires_in_days > 3650)) {
    errors.push_back({{"body", "expires_in_days"},
                      "ensure this value is between 1 and 3650",
                      "value_error.number.not_in_range"});
  }
  if (!errors.empty())
    return tl::unexpected(Error{Errc::Validation, "api key request", std::move(errors), 0});
  auto public_bytes = crypto::randomBytes(kPublicIdHex / 2);
  auto secret = crypto::randomToken(32);
  if (!public_bytes || !secret) return fail(Errc::Internal, "random source failed");
  const std::string public_id = core::hexEncode(*public_bytes);
  std::string plaintext = std::string(kApiKeyPrefix) + public_id + "_" + *secret;

  const std::int64_t now = clock_.unixSeconds();
  store::ApiKey key;
  key.user_id = owner.id;
  key.name = request.name;
  key.public_id = public_id;
  key.secret_hash = hashKey(plaintext);
  key.scopes = scopes;
  key.created_at = now;
  if (request.expires_in_days) key.expires_at = now + *request.expires_in_days * 86400;
  // A bounded number of live keys per owner, so a stolen token cannot mint without end; the store
  // counts and inserts under one lock, so racing creations do not pass it together (found by an
  // outside attack: 20 at once made 9 under a limit of 5).
  auto stored = store_.apiKeys().create(std::move(key), max_per_user_, session);
  if (!stored && stored.error().code == core::Errc::ResourceExhausted)
    return fail(Errc::ApiKeyLimit,
                "owner holds the most keys (" + std::to_string(max_per_user_) + ")");
  if (!stored && stored.error().code == core::Errc::NotFound)  // deleted meanwhile
    return fail(Errc::UserNotFound, "owner deleted");
  // A deactivated owner's key would come alive on reactivation (the CLI can name one): the store
  // refuses an inactive owner in the transaction that inserts, so a deactivation racing this
  // request is seen too.
  if (!stored && stored.error().code == core::Errc::FailedPrecondition)
    return fail(Errc::InactiveUser, "owner inactive");
  // A reset or sign-out ended the asking session while this request waited for the owner's lock.
  if (!stored && stored.error().code == core::Errc::Aborted)
    return fail(Errc::InvalidToken, "the asking session ended");
  if (!stored) return tl::unexpected(storeFailure(stored.error()));
  // The owner acts, or the command line (audited as actor "cli").
  const auto actor = client.actor_name.empty() ? std::optional(owner.id) : std::nullopt;
  audit_.record(
      auditEvent("apikey.created", client, actor, owner.id,
                 {{"key_id", stored->id}, {"prefix", std::string(kApiKeyPrefix) + public_id}}));
  return CreatedApiKey{std::move(*stored), std::move(plaintext)};
}

Result<std::vector<store::ApiKey>> ApiKeyService::list(std::int64_t user_id) {
  auto keys = store_.apiKeys().listForUser(user_id);
  if (!keys) return tl::unexpected(storeFailure(keys.error()));
  // Expired keys are dead: not listed, not counted.
  const std::int64_t now = clock_.unixSeconds();
  std::erase_if(*keys,
                [now](const store::ApiKey& k) { return k.expires_at && *k.expires_at <= now; });
  return std::move(*keys);
}

Result<void> ApiKeyService::revoke(std::int64_t user_id, std::int64_t key_id,
                                   const ClientInfo& client) {
  auto key = store_.apiKeys().findById(key_id);
  if (!key) return tl::unexpected(storeFailure(key.error()));
  if (auto ok = store_.apiKeys().revoke(key_id, user_id); !ok) {
    if (ok.error().code == core::Errc::NotFound) return fail(Errc::ApiKeyNotFound);
    return tl::unexpected(storeFailure(ok.error()));
  }
  if (*key) {
    const std::unique_lock lock(mutex_);
    ++generation_;
    by_public_id_.erase((*key)->public_id);
  }
  if (on_change_) on_change_(changeMessage(user_id));
  const auto actor = client.actor_name.empty() ? std::optional(user_id) : std::nullopt;
  audit_.record(auditEvent("apikey.revoked", client, actor, user_id, {{"key_id", key_id}}));
  return {};
}

void ApiKeyService::forgetUser(std::int64_t user_id) {
  dropOwner(user_id);
  if (on_change_) on_change_(changeMessage(user_id));
}

namespace {
constexpr std::string_view kChangePrefix = "keys-changed ";
}  // namespace

std::string ApiKeyService::changeMessage(std::int64_t user_id) {
  return std::string(kChangePrefix) + std::to_string(user_id);
}

bool ApiKeyService::applyMessage(std::string_view message) {
  const auto owner = changedId(message, kChangePrefix);
  if (!owner) return false;
  dropOwner(*owner);
  return true;
}

void ApiKeyService::dropOwner(std::int64_t user_id) {
  const std::unique_lock lock(mutex_);
  ++generation_;
  std::erase_if(by_public_id_, [user_id](const auto& kv) { return kv.second.user_id == user_id; });
}

Result<Principal> ApiKeyService::authenticate(std::string_view key, const ClientInfo& client,
                                              core::Wait wait) {
  const auto public_id = apiKeyPublicPart(key);
  if (!public_id) return fail(Errc::InvalidToken, "not an API key");
  std::optional<store::ApiKey> found;
  if (log_.trusted()) {
    const std::shared_lock lock(mutex_);
    if (auto it = by_public_id_.find(*public_id); it != by_public_id_.end()) found = it->second;
  }
  if (!found) {
    if (wait == core::Wait::No) return fail(Errc::WouldBlock, "API key not cached");
    std::uint64_t generation = 0;
    {
      const std::shared_lock lock(mutex_);
      generation = generation_;
    }
    auto loaded = store_.apiKeys().findByPublicId(*public_id);
    if (!loaded) return tl::unexpected(storeFailure(loaded.error()));
    if (!*loaded) return fail(Errc::InvalidToken, "unknown API key");
    found = **loaded;
    if (!found->revoked) {  // revoked keys are not kept in memory
      const std::unique_lock lock(mutex_);
      // A revocation between the read and now may have been of this key: then the row read is
      // stale and is not kept (as the user cache does).
      if (generation_ == generation) {
        if (by_public_id_.size() > 100000) by_public_id_.clear();
        by_public_id_[*public_id] = *found;
      }
    }
  }
  if (!crypto::constantTimeEquals(hashKey(key), found->secret_hash))
    return fail(Errc::InvalidToken, "API key secret mismatch");
  // The owner's state first (API.md: an inactive owner's key gets 403 Inactive user), then the
  // key's own: a deactivation revoked the key, so it stays dead once the owner is active again.
  auto owner = users_.get(found->user_id, wait);
  if (!owner) return tl::unexpected(storeFailure(owner.error()));
  if (!*owner) return fail(Errc::InvalidToken, "API key owner no longer exists");
  if (!(*owner)->is_active) return fail(Errc::InactiveUser, "API key owner inactive");
  if (found->revoked) return fail(Errc::InvalidToken, "revoked API key");
  // One reading of the clock: a second turning between "is a use due?" and "record it" must not
  // make an I/O thread write.
  const std::int64_t now = clock_.unixSeconds();
  if (found->expires_at && *found->expires_at <= now)
    return fail(Errc::InvalidToken, "expired API key");
  // A key that would otherwise work (so the answer does not suggest verifying revives a revoked
  // one): an outside attack found such keys working on, and forward-auth telling applications
  // the unverified address an administrator had set.
  if (email_verification_required_ && !(*owner)->email_verified)
    return fail(Errc::EmailNotVerified, "API key owner's address unverified");
  const auto due = claimUse(found->id, now, wait);
  if (!due) return fail(Errc::WouldBlock, "API key use to record");
  Principal p{std::move(*owner), {}, {}, found->id};
  p.permissions = rbac::effectivePermissions(policy_.permissionsOf(p.user->role), found->scopes);
  recordUse(*found, client, now, *due);
  return p;
}

std::optional<ApiKeyService::DueUse> ApiKeyService::claimUse(std::int64_t key_id, std::int64_t now,
                                                             core::Wait wait) {
  Uses dropped;  // freed after the lock is let go
  const std::lock_guard lock(use_mutex_);
  auto it = recent_uses_.find(key_id);
  const bool in_recent = it != recent_uses_.end();
  if (!in_recent) it = older_uses_.find(key_id);
  const auto [touched, audited] = in_recent || it != older_uses_.end()
                                      ? it->second
                                      : std::pair<std::int64_t, std::int64_t>{0, 0};
  const DueUse due{now - touched >= 60, now - audited >= 3600};
  if (!due.touch && !due.audit) return due;
  if (wait == core::Wait::No) return std::nullopt;
  if (!in_recent && it != older_uses_.end()) older_uses_.erase(it);
  // A clock stepped back before the current generation began would hold off the next rotation
  // (and keep every key used meanwhile) for as long as the step: the hour starts again from now.
  // Nothing is dropped early: the older generation still goes an hour after this.
  if (now < rotate_at_ - kUseGeneration) rotate_at_ = now + kUseGeneration;
  if (now >= rotate_at_) {
    // Every entry of the older generation was written before the recent one began, which is
    // at least kUseGeneration ago: each would answer as a missing one.
    dropped.swap(older_uses_);
    older_uses_.swap(recent_uses_);
    rotate_at_ = now + kUseGeneration;
  }
  auto& entry = recent_uses_[key_id];
  entry = {due.touch ? now : touched, due.audit ? now : audited};
  return due;
}

void ApiKeyService::recordUse(const store::ApiKey& key, const ClientInfo& client, std::int64_t now,
                              DueUse due) {
  if (due.touch) (void)store_.apiKeys().touch(key.id, now);
  if (due.audit) {
    audit_.record({"apikey.used",
                   client.request_id,
                   key.user_id,
                   key.user_id,
                   client.ip,
                   client.user_agent,
                   {{"key_id", key.id}, {"sampled", "at most hourly per key"}}});
  }
}

std::size_t ApiKeyService::usesRemembered() {
  const std::lock_guard lock(use_mutex_);
  return recent_uses_.size() + older_uses_.size();
}

core::Status ApiKeyService::sync() {
  return log_.follow(
      [this](std::int64_t seq) { return store_.apiKeys().changesSince(seq); },
      [this](const store::ChangeLogRead& changes) {
        const std::unique_lock lock(mutex_);
        ++generation_;
        if (changes.missed) {
          by_public_id_.clear();  // what changed unread is no longer known
          return;
        }
        const std::unordered_set<std::int64_t> changed(changes.ids.begin(), changes.ids.end());
        std::erase_if(by_public_id_,
                      [&changed](const auto& kv) { return changed.contains(kv.second.id); });
      });
}

}  // namespace gatehouse::auth
