#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "state/limits.hpp"

namespace gatehouse::state {

// In-process counters for one node (the embedded default). Sharded maps; expired entries are
// swept as the map grows, so memory stays bounded by the keys active within a window.
class LocalRateLimiter final : public RateLimiter {
 public:
  // Keys longer than this are refused (InvalidArgument): callers pass digests of long input.
  static constexpr std::size_t kMaxKeyBytes = 256;
  // About `max_keys` counters are held, at most twice that: when full, expired windows go first,
  // then (down to seven eighths of a shard) budgets not spent, the least used share of its limit
  // first and, among equals, in an order no client can foresee (a random tag per window). Spent
  // budgets of a limit above one are not forgotten until their windows end, unless a shard holds
  // twice its share (each took its limit's requests, which the per-address limits pace): a spray
  // of keys forgets no spent budget, and a fresh counter is no cheaper to push out than any other.
  // After a pass that left a shard full of spent budgets, the next waits for an eighth more keys
  // (until then the shard may hold past its share, never past twice it).
  explicit LocalRateLimiter(std::size_t max_keys = 200000);
  [[nodiscard]] core::Result<Decision> hit(std::string_view key, std::uint32_t limit,
                                           std::chrono::seconds window, std::int64_t now) override;
  void reset(std::string_view key) override;
  std::size_t size() const;

 private:
  struct Window {
    std::int64_t start = 0;
    std::int64_t length = 0;
    std::uint32_t count = 0;
    std::uint32_t limit = 0;  // the last hit's: at or past it, a spent budget
    std::uint64_t tag = 0;    // random: the order among equals when room is made
    bool marker = false;      // its key starts with kMarkerPrefix
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Window, KeyHash, std::equal_to<>> windows;
    std::size_t sweep_at = 1024;
    std::size_t full_at = 0;  // the size at which room is made next (0: the shard's share)
    std::uint64_t tags = 0;   // splitmix64's state, seeded at random
    std::uint64_t nextTag();
  };
  // Makes room in a full shard (under its mutex).
  void makeRoom(Shard& shard, std::int64_t now) const;
  static constexpr std::size_t kShards = 16;
  std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

class LocalLoginGuard final : public LoginGuard {
 public:
  // At most about `max_entries` accounts are remembered (a spray of identifiers stays bounded).
  explicit LocalLoginGuard(LockoutPolicy policy, std::size_t max_entries = 100000)
      : policy_(policy), max_entries_(max_entries) {}
  [[nodiscard]] core::Result<Gate> check(std::string_view account, std::int64_t now) override;
  [[nodiscard]] core::Result<bool> failed(std::string_view account, std::int64_t now) override;
  [[nodiscard]] core::Result<Attempt> attempt(std::string_view account, std::int64_t now) override;
  void succeeded(std::string_view account) override;

 private:
  struct Entry {
    std::uint32_t failures = 0;
    std::int64_t blocked_until = 0;
    bool locked = false;
    std::int64_t last_failure = 0;
  };
  LockoutPolicy policy_;
  const std::size_t max_entries_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  void makeRoom(std::int64_t now);                        // under mutex_
  Gate gate(std::string_view account, std::int64_t now);  // check(), under mutex_
  bool fail(std::string_view account, std::int64_t now);  // failed(), under mutex_
};

}  // namespace gatehouse::state
