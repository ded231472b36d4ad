#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace gatehouse::mail {

// Work done after the response: one thread, a bounded queue (a flood cannot grow memory: post()
// refuses beyond `capacity`). stop() runs what is queued, then joins. Thread-safe.
class Background {
 public:
  explicit Background(std::size_t capacity) : capacity_(capacity) {}
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background() { stop(); }

  void start();
  // False when the queue is full or stopping (the job is dropped).
  bool post(std::function<void()> job);
  void stop();
  // Waits until every job posted so far has run (tests).
  void flush();

 private:
  void run();

  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> jobs_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gatehouse::mail
