#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace gatehouse::auth {

// How long a cache kept true by reading a change log may answer after its last successful read:
// past that (the database unreachable, or a read hanging), it answers from storage, which fails
// closed, rather than from memory it can no longer keep true. Unlimited until limit() is called
// (tools and tests that never read the log). Thread-safe.
class CacheTrust {
 public:
  using Steady = std::chrono::steady_clock;

  void limit(std::chrono::nanoseconds window) {
    window_.store(window.count(), std::memory_order_relaxed);
  }
  // When a read of the change log starts; given to read() once the read succeeded and was
  // applied (what was committed after that time is the next read's).
  [[nodiscard]] static std::int64_t now() { return Steady::now().time_since_epoch().count(); }
  void read(std::int64_t started) { last_.store(started, std::memory_order_relaxed); }
  [[nodiscard]] bool trusted() const {
    const std::int64_t window = window_.load(std::memory_order_relaxed);
    return window == 0 || now() - last_.load(std::memory_order_relaxed) <= window;
  }

 private:
  std::atomic<std::int64_t> window_{0};
  std::atomic<std::int64_t> last_{now()};
};

}  // namespace gatehouse::auth
