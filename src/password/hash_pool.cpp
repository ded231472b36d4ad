#include "password/hash_pool.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gatehouse::password {

HashPool::HashPool(Options options) : capacity_(options.queue_capacity), nice_(options.nice) {
  std::size_t n = options.threads;
  if (n == 0) n = std::max(1U, std::thread::hardware_concurrency());
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) workers_.emplace_back([this] { run(); });
}

HashPool::~HashPool() { shutdown(); }

core::Status HashPool::trySubmit(std::function<void()> job) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return core::makeError(core::Errc::Unavailable, "hashing pool is shut down");
    if (queue_.size() >= capacity_) {
      return core::makeError(core::Errc::ResourceExhausted, "hashing queue is full");
    }
    queue_.push_back(std::move(job));
  }
  ready_.notify_one();
  return {};
}

void HashPool::shutdown() {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

std::size_t HashPool::queueDepth() const {
  const std::lock_guard lock(mutex_);
  return queue_.size();
}

void HashPool::run() {
  // Hashing yields the CPU to everything else (I/O threads above all): with every core busy
  // hashing, token checks still run at once, while idle CPU still goes to hashing. Linux nice
  // values are per thread.
  const auto tid = static_cast<pid_t>(::syscall(SYS_gettid));
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice_);
  if (nice_ >= 19) {
    // SCHED_IDLE: preempted at once by any normal thread, yet free to use idle cores fully.
    sched_param param{};
    (void)::sched_setscheduler(tid, SCHED_IDLE, &param);
  }
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace gatehouse::password
