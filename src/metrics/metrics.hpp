#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace gatehouse::metrics {

// Process-wide counters rendered in the Prometheus text format (version 0.0.4). Counters are
// atomics; the per-route maps take a short lock. Thread-safe.
class Registry {
 public:
  void observeRequest(const std::string& method, const std::string& route, int status,
                      double seconds);
  void loginSucceeded() { logins_ok_.fetch_add(1, std::memory_order_relaxed); }
  void loginFailed() { logins_failed_.fetch_add(1, std::memory_order_relaxed); }
  void tokensIssued(std::uint64_t n = 1) { tokens_issued_.fetch_add(n, std::memory_order_relaxed); }
  void rateLimited() { rate_limited_.fetch_add(1, std::memory_order_relaxed); }
  void refreshReuse() { refresh_reuse_.fetch_add(1, std::memory_order_relaxed); }
  void lockedOut() { locked_out_.fetch_add(1, std::memory_order_relaxed); }
  // Sampled when rendering.
  void setHashQueueDepth(std::function<std::size_t()> depth) {
    hash_queue_depth_ = std::move(depth);
  }

  std::string render() const;

  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::atomic<std::uint64_t> logins_ok_{0};
  std::atomic<std::uint64_t> logins_failed_{0};
  std::atomic<std::uint64_t> tokens_issued_{0};
  std::atomic<std::uint64_t> rate_limited_{0};
  std::atomic<std::uint64_t> refresh_reuse_{0};
  std::atomic<std::uint64_t> locked_out_{0};
  std::function<std::size_t()> hash_queue_depth_;
};

}  // namespace gatehouse::metrics
