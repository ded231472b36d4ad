#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

namespace gatehouse::auth {

// How long a cache kept true by reading a change log may answer after its last successful read:
// past that (the database unreachable, or a read hanging), it answers from storage, which fails
// closed, rather than from memory it can no longer keep true. Unlimited until limit() is called
// (tools and tests that never read the log). Thread-safe.
class CacheTrust {
 public:
  using Steady = std::chrono::steady_clock;
  // The monotonic clock read, in Steady's ticks (tests give their own).
  using Now = std::int64_t (*)();
  static std::int64_t steadyNow() { return Steady::now().time_since_epoch().count(); }

  void limit(std::chrono::nanoseconds window, Now clock = &steadyNow) {
    now_.store(clock, std::memory_order_relaxed);
    last_.store(clock(), std::memory_order_relaxed);
    window_.store(std::chrono::duration_cast<Steady::duration>(window).count(),
                  std::memory_order_relaxed);
  }
  // When a read of the change log starts; given to read() once the read succeeded and was
  // applied (what was committed after that time is the next read's).
  [[nodiscard]] std::int64_t now() const { return now_.load(std::memory_order_relaxed)(); }
  void read(std::int64_t started) { last_.store(started, std::memory_order_relaxed); }
  [[nodiscard]] bool trusted() const {
    const std::int64_t window = window_.load(std::memory_order_relaxed);
    return window == kUnlimited || now() - last_.load(std::memory_order_relaxed) <= window;
  }

 private:
  static constexpr std::int64_t kUnlimited = std::numeric_limits<std::int64_t>::max();
  std::atomic<Now> now_{&steadyNow};
  std::atomic<std::int64_t> window_{kUnlimited};
  std::atomic<std::int64_t> last_{steadyNow()};
};

}  // namespace gatehouse::auth
