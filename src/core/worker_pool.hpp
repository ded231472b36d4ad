#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <limits>
#include <list>
#include <mutex>
#include <thread>

#include "core/error.hpp"

namespace gatehouse::core {

// Threads that start when work arrives and end after a while without any, so an idle server
// keeps only `min_threads` of them. Work beyond the running threads waits as an entry in a
// bounded queue, never as a parked thread; a full queue refuses at once (ResourceExhausted) so
// callers shed load instead of stalling. Thread-safe.
class WorkerPool {
 public:
  struct Options {
    const char* name = "gh-worker";  // the threads' name (15 bytes shown)
    std::size_t max_threads = 1;     // at least 1
    std::size_t min_threads = 0;     // kept while idle
    // Jobs waiting for a thread (not counting those running).
    std::size_t queue_capacity = std::numeric_limits<std::size_t>::max();
    std::chrono::milliseconds idle_exit{10'000};  // a thread above min_threads idle this long ends
    // Linux nice value of the threads; 19 also selects SCHED_IDLE (an unprivileged thread cannot
    // come back from it, so a pool's threads keep one priority for life).
    int nice = 0;
  };

  explicit WorkerPool(Options options);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  // shutdown()
  ~WorkerPool();

  // Queues `job`, starting a thread when none is free and max_threads allows; ResourceExhausted
  // when the queue is full, Unavailable after shutdown().
  [[nodiscard]] Status trySubmit(std::function<void()> job);

  // Stops accepting work, runs what is already queued and joins every thread. Idempotent; not
  // from one of the pool's own threads.
  void shutdown();

  std::size_t queueDepth() const;
  std::size_t threadCount() const;  // running now
  std::size_t maxThreads() const { return options_.max_threads; }
  std::size_t capacity() const { return options_.queue_capacity; }

 private:
  using Threads = std::list<std::thread>;
  bool startThread();  // with mutex_ held; false when the system refused a thread
  void run(Threads::iterator self);

  const Options options_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;  // work queued, or stopping
  std::condition_variable gone_;   // a thread ended
  std::deque<std::function<void()>> queue_;
  Threads threads_;
  // The last thread to end, joined by the next one to end or by shutdown(): an ended thread's
  // stack is released without keeping a reaper thread.
  std::thread ended_;
  std::size_t idle_ = 0;  // threads waiting for work
  bool stopping_ = false;
};

}  // namespace gatehouse::core
