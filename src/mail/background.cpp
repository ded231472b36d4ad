#include "mail/background.hpp"

#include <cstdint>
#include <cstring>
#include <exception>

#include "core/log.hpp"
#include "core/this_thread.hpp"
#include "crypto/random.hpp"

namespace gatehouse::mail {

void Background::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    core::nameThisThread("gh-after");
    core::lowerThisThread(10);
    run();
  });
}

Background::Clock::duration Background::delay() const {
  if (spread_.max <= spread_.min) return spread_.min;
  // Unpredictable, so a client cannot time its probes to the work (a failing random source
  // leaves the shortest wait).
  std::uint32_t r = 0;
  if (auto bytes = crypto::randomBytes(sizeof r)) std::memcpy(&r, bytes->data(), sizeof r);
  const auto width = static_cast<std::uint64_t>((spread_.max - spread_.min).count()) + 1;
  return spread_.min + std::chrono::milliseconds(r % width);
}

bool Background::post(std::function<void()> job) {
  const auto due = Clock::now() + delay();
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= capacity_) return false;
    jobs_.emplace(due, std::move(job));  // after any due at the same time: posting order
  }
  changed_.notify_all();
  return true;
}

bool Background::full() {
  const std::lock_guard lock(mutex_);
  return stopping_ || jobs_.size() >= capacity_;
}

void Background::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Background::flush() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return (jobs_.empty() && running_ == 0) || !thread_.joinable(); });
}

void Background::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (jobs_.empty()) {
      if (stopping_) return;  // everything queued has run
      changed_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      continue;
    }
    const auto first = jobs_.begin();
    if (!stopping_ && first->first > Clock::now()) {  // a stop runs what waits at once
      changed_.wait_until(lock, first->first);
      continue;
    }
    auto job = std::move(first->second);
    jobs_.erase(first);
    ++running_;
    lock.unlock();
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("background job failed: {}", e.what());
    }
    lock.lock();
    --running_;
    changed_.notify_all();
  }
}

}  // namespace gatehouse::mail
