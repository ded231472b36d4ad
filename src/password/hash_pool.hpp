#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/error.hpp"

namespace gatehouse::password {

// A fixed set of worker threads with a bounded queue for CPU-heavy password work. When the queue
// is full, submission fails at once with ResourceExhausted, so callers shed load (HTTP 503 with
// Retry-After) instead of stalling. Thread-safe.
class HashPool {
 public:
  struct Options {
    std::size_t threads = 0;  // 0 = one per core
    std::size_t queue_capacity = 64;
    // Linux nice value of the worker threads; 19 also selects SCHED_IDLE. Hashing yields to
    // request handling but still uses every idle cycle.
    int nice = 19;
  };

  explicit HashPool(Options options);
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;
  // Runs what is already queued, then joins the workers.
  ~HashPool();

  // Queues `job`; ResourceExhausted when the queue is full, Unavailable after shutdown().
  [[nodiscard]] core::Status trySubmit(std::function<void()> job);

  // Queues `fn` and returns a future for its result; errors as trySubmit.
  template <class F>
  [[nodiscard]] core::Result<std::future<std::invoke_result_t<F>>> submit(F fn) {
    using R = std::invoke_result_t<F>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    std::future<R> future = task->get_future();
    if (auto ok = trySubmit([task] { (*task)(); }); !ok) return tl::unexpected(ok.error());
    return future;
  }

  // Stops accepting work, finishes queued jobs and joins the workers. Idempotent.
  void shutdown();

  std::size_t queueDepth() const;
  std::size_t capacity() const { return capacity_; }
  std::size_t threadCount() const { return workers_.size(); }

 private:
  void run();

  const std::size_t capacity_;
  const int nice_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace gatehouse::password
