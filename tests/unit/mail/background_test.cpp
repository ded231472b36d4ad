// Work done after the response: one thread, in order, a bounded queue, and a stop that finishes
// what was queued.
#include "mail/background.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace gatehouse::mail {
namespace {

TEST(Background, RunsJobsInOrderOffTheCallersThread) {
  Background b(16);
  b.start();
  std::mutex mutex;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(b.post([&, i] {
      std::lock_guard lock(mutex);
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
    }));
  }
  b.flush();
  std::lock_guard lock(mutex);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  for (const auto& id : threads) {
    EXPECT_NE(id, std::this_thread::get_id());
    EXPECT_EQ(id, threads.front());
  }
}

TEST(Background, RefusesJobsBeyondItsCapacity) {
  Background b(2);
  std::atomic<int> ran{0};
  EXPECT_TRUE(b.post([&] { ++ran; }));
  EXPECT_TRUE(b.post([&] { ++ran; }));
  EXPECT_FALSE(b.post([&] { ++ran; }));  // not started: the queue is full
  b.start();
  b.flush();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_TRUE(b.post([&] { ++ran; }));  // room again
  b.flush();
  EXPECT_EQ(ran.load(), 3);
}

TEST(Background, StopRunsWhatIsQueuedThenRefusesMore) {
  Background b(64);
  std::atomic<int> ran{0};
  b.start();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(b.post([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ++ran;
    }));
  }
  b.stop();
  EXPECT_EQ(ran.load(), 20);
  EXPECT_FALSE(b.post([&] { ++ran; }));
  b.flush();  // returns at once once stopped
  EXPECT_EQ(ran.load(), 20);
}

TEST(Background, AJobThatThrowsDoesNotStopTheOthers) {
  Background b(4);
  b.start();
  std::atomic<int> ran{0};
  ASSERT_TRUE(b.post([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(b.post([&] { ++ran; }));
  b.flush();
  EXPECT_EQ(ran.load(), 1);
}

// A forgotten password's work must not land on its response or on the client's next request: each
// job waits a random time within the spread, and the waits differ.
TEST(Background, JobsWaitARandomTimeWithinTheSpread) {
  using std::chrono::milliseconds;
  Background b(64, {.min = milliseconds(40), .max = milliseconds(200)});
  b.start();
  std::mutex mutex;
  std::vector<std::chrono::steady_clock::duration> waits;
  for (int i = 0; i < 12; ++i) {
    const auto posted = std::chrono::steady_clock::now();
    ASSERT_TRUE(b.post([&, posted] {
      std::lock_guard lock(mutex);
      waits.push_back(std::chrono::steady_clock::now() - posted);
    }));
  }
  b.flush();
  std::lock_guard lock(mutex);
  ASSERT_EQ(waits.size(), 12U);
  const auto [shortest, longest] = std::minmax_element(waits.begin(), waits.end());
  EXPECT_GE(*shortest, milliseconds(40));
  EXPECT_LT(*longest, milliseconds(200) + milliseconds(500));  // the bound, and a busy machine
  EXPECT_GT(*longest - *shortest, milliseconds(5)) << "twelve waits alike: not random";
}

// A stop does not wait out the spread: what is queued runs at once.
TEST(Background, StopRunsWaitingJobsAtOnce) {
  using std::chrono::milliseconds;
  Background b(8, {.min = milliseconds(60'000), .max = milliseconds(120'000)});
  b.start();
  std::atomic<int> ran{0};
  ASSERT_TRUE(b.post([&] { ++ran; }));
  ASSERT_TRUE(b.post([&] { ++ran; }));
  const auto started = std::chrono::steady_clock::now();
  b.stop();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(10'000));
}

}  // namespace
}  // namespace gatehouse::mail
