#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace gatehouse::mail {

// How long after it is posted a job may run: a random time from `min` to `max`.
struct Spread {
  std::chrono::milliseconds min{0};
  std::chrono::milliseconds max{0};
};

// Work done after the response: one thread at low priority (nice 10: a request's thread goes
// first), a bounded queue (a flood cannot grow memory: post() refuses beyond `capacity`). Each
// job waits a random time within `spread` after it is posted, so the work a request left (a
// forgotten password's lookup, token and mail for a known address, none for an unknown one)
// neither lands on the request's response nor on whatever the same client sends next. Jobs run
// in the order their times come (in posting order with no spread). stop() runs what is queued
// at once, then joins. Thread-safe.
class Background {
 public:
  explicit Background(std::size_t capacity, Spread spread = {})
      : capacity_(capacity), spread_(spread) {}
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background() { stop(); }

  void start();
  // False when the queue is full or stopping (the job is dropped).
  bool post(std::function<void()> job);
  // Whether post() would refuse now (a caller asks before spending anything on a job).
  bool full();
  void stop();
  // Waits until every job posted so far has run (tests).
  void flush();

 private:
  using Clock = std::chrono::steady_clock;
  void run();
  Clock::duration delay() const;

  std::size_t capacity_;
  Spread spread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::multimap<Clock::time_point, std::function<void()>> jobs_;  // by when each is due
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gatehouse::mail
