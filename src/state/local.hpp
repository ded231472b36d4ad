#pragma once

#include <array>
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
  // At most `max_keys` counters are held; when full, expired windows go first, then (down to
  // seven eighths of a shard) budgets not spent, the fewest hits and the newest first, spent ones
  // last: memory stays bounded under a spray of keys, and a spray forgets no spent budget.
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
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Window, KeyHash, std::equal_to<>> windows;
    std::size_t sweep_at = 1024;
  };
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
