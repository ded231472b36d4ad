#pragma once

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>

#include "core/error.hpp"
#include "store/store.hpp"

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

// A cache's place in a change log (store::ChangeLogRead) and the trust reading it earns: the
// part the user cache and the API key cache share. follow() reads from the last place to the
// log's end (every full page: a node back from an outage has no stale page left), hands each
// read that changed something or missed changes to `apply`, and then counts as a read begun when
// it began. The first call only learns the place. Thread-safe: one follow() at a time.
class LogFollower {
 public:
  void limit(std::chrono::nanoseconds window, CacheTrust::Now clock) {
    trust_.limit(window, clock);
  }
  [[nodiscard]] bool trusted() const { return trust_.trusted(); }

  // `read(seq)`: the log after `seq`; `apply(const store::ChangeLogRead&)`, under no lock of
  // this class but its own turn.
  template <class Read, class Apply>
  [[nodiscard]] core::Status follow(Read read, Apply apply) {
    const std::lock_guard turn(mutex_);
    const std::int64_t started = trust_.now();
    for (bool more = true; more;) {
      auto changes = read(seq_);
      if (!changes) return tl::unexpected(changes.error());
      if (seq_ >= 0 && (changes->missed || !changes->ids.empty())) apply(*changes);
      seq_ = changes->seq;
      more = changes->more;
    }
    trust_.read(started);
    return {};
  }

 private:
  std::mutex mutex_;
  std::int64_t seq_ = -1;
  CacheTrust trust_;
};

// The id a change message from another node names ("<prefix><decimal id>", published by the
// caches below); nullopt when `message` is not one of that kind.
inline std::optional<std::int64_t> changedId(std::string_view message, std::string_view prefix) {
  if (!message.starts_with(prefix) || message.size() == prefix.size()) return std::nullopt;
  message.remove_prefix(prefix.size());
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(message.data(), message.data() + message.size(), id);
  if (ec != std::errc() || end != message.data() + message.size()) return std::nullopt;
  return id;
}

}  // namespace gatehouse::auth
