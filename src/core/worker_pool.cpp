#include "core/worker_pool.hpp"

#include <algorithm>
#include <system_error>

#include "core/this_thread.hpp"

namespace gatehouse::core {

namespace {

WorkerPool::Options normalized(WorkerPool::Options o) {
  o.max_threads = std::max<std::size_t>(1, o.max_threads);
  o.min_threads = std::min(o.min_threads, o.max_threads);
  return o;
}

}  // namespace

WorkerPool::WorkerPool(Options options) : options_(normalized(options)) {
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < options_.min_threads; ++i) (void)startThread();
}

WorkerPool::~WorkerPool() { shutdown(); }

bool WorkerPool::startThread() {
  auto it = threads_.emplace(threads_.end());
  try {
    // The new thread takes the lock first thing, so `it` is in place before it looks at it.
    *it = std::thread([this, it] { run(it); });
    return true;
  } catch (const std::system_error&) {
    threads_.erase(it);  // no thread (EAGAIN: a process or cgroup limit): nothing to wait for
    return false;
  }
}

Status WorkerPool::trySubmit(std::function<void()> job) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return makeError(Errc::Unavailable, "worker pool is shut down");
    if (queue_.size() >= options_.queue_capacity) {
      return makeError(Errc::ResourceExhausted, "work queue is full");
    }
    queue_.push_back(std::move(job));
    // A woken thread may not have left the idle count yet: starting one too many is harmless,
    // leaving a job without a thread is not.
    if (queue_.size() > idle_ && threads_.size() < options_.max_threads && !startThread() &&
        threads_.empty()) {
      queue_.pop_back();  // nobody would ever run it
      return makeError(Errc::Unavailable, "cannot start a worker thread");
    }
  }
  ready_.notify_one();
  return {};
}

void WorkerPool::shutdown() {
  std::thread last;
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    ready_.notify_all();
    gone_.wait(lock, [this] { return threads_.empty(); });
    last = std::move(ended_);
  }
  if (last.joinable()) last.join();
}

std::size_t WorkerPool::queueDepth() const {
  const std::lock_guard lock(mutex_);
  return queue_.size();
}

std::size_t WorkerPool::threadCount() const {
  const std::lock_guard lock(mutex_);
  return threads_.size();
}

void WorkerPool::run(Threads::iterator self) {
  nameThisThread(options_.name);
  lowerThisThread(options_.nice);
  std::thread previous;
  {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      const bool woken = ready_.wait_for(lock, options_.idle_exit,
                                         [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (!queue_.empty()) {
        auto job = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        try {
          job();
        } catch (...) {
          // A job reports its own failures; one that throws must not end the process or this
          // thread (the old pools handed such exceptions back the same way: to nobody fatal).
        }
        job = nullptr;  // its captures go before the lock is taken again
        lock.lock();
        continue;
      }
      if (stopping_ || (!woken && threads_.size() > options_.min_threads)) break;
    }
    previous = std::move(ended_);
    ended_ = std::move(*self);
    threads_.erase(self);
    gone_.notify_all();
  }
  if (previous.joinable()) previous.join();
}

}  // namespace gatehouse::core
