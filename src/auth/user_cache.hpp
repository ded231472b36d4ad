#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/cache_trust.hpp"
#include "core/blocking.hpp"
#include "core/error.hpp"
#include "core/sharded_mutex.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// Users by id for the token hot path, so a valid token costs no storage round-trip. Entries are
// dropped at once when this process changes a user (invalidate) and, for changes made elsewhere
// (the CLI, another node), when sync() reads the database's change log — the server calls it
// twice a second, and answers from memory only within a window of the last read that
// succeeded (trustFor). Thread-safe.
class UserCache {
 public:
  explicit UserCache(store::UserStore& users, std::size_t max_entries = 100000)
      : users_(users), max_entries_(max_entries) {}

  // The user (from memory when cached: shared, never copied); null when it does not exist.
  // WouldBlock with Wait::No when it is not cached.
  [[nodiscard]] core::Result<std::shared_ptr<const store::User>> get(
      std::int64_t id, core::Wait wait = core::Wait::Yes);
  // Drops `id` after this process changed it, and tells the other nodes (see onChange).
  void invalidate(std::int64_t id);
  // Called after every invalidate() with changeMessage(id): the server publishes it, and each
  // other node's applyMessage drops the user at once (its next read of the change log follows).
  // Set before serving.
  void onChange(std::function<void(std::string_view message)> hook) {
    on_change_ = std::move(hook);
  }
  static std::string changeMessage(std::int64_t id);
  // Drops the user a changeMessage names, so the next get() reads storage (which the change
  // reached before it was published); false when `message` is not one.
  bool applyMessage(std::string_view message);
  // Applies changes recorded since the last sync; the first call only learns the position.
  [[nodiscard]] core::Status sync();
  // Answers from memory only within `window` of the start of the last successful sync (counted
  // from now until the next one); past it every get() reads storage (Wait::No: WouldBlock).
  // Unlimited unless set (the server sets it); `clock` is the monotonic clock (tests give theirs).
  void trustFor(std::chrono::nanoseconds window, CacheTrust::Now clock = &CacheTrust::steadyNow) {
    log_.limit(window, clock);
  }
  std::size_t size() const;

 private:
  void drop(std::int64_t id);  // and bumps the generation: a read racing it keeps nothing

  store::UserStore& users_;
  const std::size_t max_entries_;
  mutable core::ShardedSharedMutex mutex_;  // readers on different cores share no cache line
  std::unordered_map<std::int64_t, std::shared_ptr<const store::User>> entries_;
  std::atomic<std::uint64_t> generation_{0};  // bumped by every invalidation
  LogFollower log_;
  std::function<void(std::string_view)> on_change_;
};

}  // namespace gatehouse::auth
