#include "core/worker_pool.hpp"

#include <atomic>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

using namespace std::chrono_literals;

// Polls `done` for up to five seconds; threads end on their own schedule.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

TEST(WorkerPool, AnIdlePoolKeepsOnlyItsMinimum) {
  WorkerPool none({.max_threads = 4});
  EXPECT_EQ(none.threadCount(), 0U);
  WorkerPool one({.max_threads = 4, .min_threads = 1});
  EXPECT_EQ(one.threadCount(), 1U);
}

TEST(WorkerPool, ThreadsStartForWorkAndEndWhenIdle) {
  WorkerPool pool({.max_threads = 3, .min_threads = 1, .idle_exit = 50ms});
  std::latch started(3);
  std::latch release(1);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool.trySubmit([&] {
      started.count_down();
      release.wait();
    }));
  }
  started.wait();  // three jobs running at once: three threads
  EXPECT_EQ(pool.threadCount(), 3U);
  release.count_down();
  EXPECT_TRUE(eventually([&] { return pool.threadCount() == 1U; }));
}

TEST(WorkerPool, NeverMoreThreadsThanItsMaximum) {
  WorkerPool pool({.max_threads = 2});
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(pool.trySubmit([&] {
      const int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(1ms);
      --running;
      ++ran;
    }));
    EXPECT_LE(pool.threadCount(), 2U);
  }
  pool.shutdown();
  EXPECT_EQ(ran.load(), 50);
  EXPECT_EQ(most.load(), 2);
}

TEST(WorkerPool, WaitingWorkIsAQueueEntryAndAFullQueueRefusesAtOnce) {
  WorkerPool pool({.max_threads = 1, .queue_capacity = 2});
  std::latch started(1);
  std::latch release(1);
  ASSERT_TRUE(pool.trySubmit([&] {
    started.count_down();
    release.wait();
  }));
  started.wait();
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.trySubmit([&] { ++ran; }));
  ASSERT_TRUE(pool.trySubmit([&] { ++ran; }));
  EXPECT_EQ(pool.queueDepth(), 2U);
  EXPECT_EQ(pool.threadCount(), 1U);  // the two waiting jobs hold no thread
  auto refused = pool.trySubmit([&] { ++ran; });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::ResourceExhausted);
  release.count_down();
  pool.shutdown();
  EXPECT_EQ(ran.load(), 2);
}

TEST(WorkerPool, ShutdownRunsQueuedWorkThenRefuses) {
  WorkerPool pool({.max_threads = 1});
  std::atomic<int> ran{0};
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(pool.trySubmit([&] { ++ran; }));
  pool.shutdown();
  EXPECT_EQ(ran.load(), 20);
  EXPECT_EQ(pool.threadCount(), 0U);
  auto late = pool.trySubmit([] {});
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Errc::Unavailable);
  pool.shutdown();  // idempotent
}

TEST(WorkerPool, AJobThatThrowsEndsNeitherTheProcessNorItsThread) {
  WorkerPool pool({.max_threads = 1});
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.trySubmit([] { throw std::runtime_error("a handler's bug"); }));
  ASSERT_TRUE(pool.trySubmit([&] { ++ran; }));
  pool.shutdown();
  EXPECT_EQ(ran.load(), 1);
}

TEST(WorkerPool, ManySubmittersLoseNoJob) {
  WorkerPool pool({.max_threads = 3, .idle_exit = 1ms});
  std::atomic<int> ran{0};
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        while (!pool.trySubmit([&] { ++ran; })) std::this_thread::yield();
        // Now and then long enough for idle threads to end and new ones to start.
        if (i % 100 == 0) std::this_thread::sleep_for(5ms);
      }
    });
  }
  for (auto& s : submitters) s.join();
  EXPECT_TRUE(eventually([&] { return ran.load() == 2000; }));
  pool.shutdown();
  EXPECT_EQ(ran.load(), 2000);
}

}  // namespace
}  // namespace gatehouse::core
