#pragma once

#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <type_traits>

#include "core/error.hpp"
#include "core/worker_pool.hpp"

namespace gatehouse::password {

// The threads that hash passwords: at most `threads` at once, started on demand and ended after
// a while idle, with a bounded queue for CPU-heavy password work. When the queue is full,
// submission fails at once with ResourceExhausted, so callers shed load (HTTP 503 with
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
  ~HashPool() = default;

  // Queues `job`; ResourceExhausted when the queue is full, Unavailable after shutdown().
  [[nodiscard]] core::Status trySubmit(std::function<void()> job) {
    return pool_.trySubmit(std::move(job));
  }

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
  void shutdown() { pool_.shutdown(); }

  std::size_t queueDepth() const { return pool_.queueDepth(); }
  std::size_t capacity() const { return pool_.capacity(); }
  // How many may hash at once.
  std::size_t threadCount() const { return pool_.maxThreads(); }
  // How many threads exist now (none while idle).
  std::size_t runningThreads() const { return pool_.threadCount(); }

 private:
  core::WorkerPool pool_;
};

}  // namespace gatehouse::password
