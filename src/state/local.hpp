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
  core::Result<Decision> hit(std::string_view key, std::uint32_t limit, std::chrono::seconds window,
                             std::int64_t now) override;

 private:
  struct Window {
    std::int64_t start = 0;
    std::int64_t length = 0;
    std::uint32_t count = 0;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Window> windows;
    std::size_t sweep_at = 1024;
  };
  static constexpr std::size_t kShards = 16;
  std::array<Shard, kShards> shards_;
};

class LocalLoginGuard final : public LoginGuard {
 public:
  explicit LocalLoginGuard(LockoutPolicy policy) : policy_(policy) {}
  core::Result<Gate> check(std::string_view account, std::int64_t now) override;
  core::Result<bool> failed(std::string_view account, std::int64_t now) override;
  void succeeded(std::string_view account) override;

 private:
  struct Entry {
    std::uint32_t failures = 0;
    std::int64_t blocked_until = 0;
    bool locked = false;
    std::int64_t last_failure = 0;
  };
  LockoutPolicy policy_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace gatehouse::state
