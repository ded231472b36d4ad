#include "password/hash_pool.hpp"

#include <atomic>
#include <latch>

#include <gtest/gtest.h>

namespace gatehouse::password {
namespace {

TEST(HashPool, RunsJobsAndReturnsResults) {
  HashPool pool({.threads = 2, .queue_capacity = 8});
  EXPECT_EQ(pool.threadCount(), 2U);
  auto f = pool.submit([] { return 6 * 7; });
  ASSERT_TRUE(f);
  EXPECT_EQ(f->get(), 42);
}

TEST(HashPool, ShedsLoadWhenQueueIsFull) {
  HashPool pool({.threads = 1, .queue_capacity = 2});
  std::latch release(1);
  std::latch started(1);
  ASSERT_TRUE(pool.trySubmit([&] {
    started.count_down();
    release.wait();
  }));
  started.wait();  // the worker is busy; the queue is empty
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.trySubmit([&] { ++ran; }));
  ASSERT_TRUE(pool.trySubmit([&] { ++ran; }));
  EXPECT_EQ(pool.queueDepth(), 2U);
  auto refused = pool.trySubmit([&] { ++ran; });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::Errc::ResourceExhausted);
  release.count_down();
  pool.shutdown();
  EXPECT_EQ(ran.load(), 2);
}

TEST(HashPool, RefusesWorkAfterShutdown) {
  HashPool pool({.threads = 1, .queue_capacity = 1});
  pool.shutdown();
  auto r = pool.trySubmit([] {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::Errc::Unavailable);
}

TEST(HashPool, DefaultsToOneThreadPerCore) {
  HashPool pool({});
  EXPECT_EQ(pool.threadCount(), std::max(1U, std::thread::hardware_concurrency()));
}

TEST(HashPool, NoThreadWaitsWhileNothingIsHashed) {
  HashPool pool({.threads = 2, .queue_capacity = 8});
  EXPECT_EQ(pool.runningThreads(), 0U);
  auto f = pool.submit([] { return 1; });
  ASSERT_TRUE(f);
  EXPECT_EQ(f->get(), 1);
  EXPECT_LE(pool.runningThreads(), 1U);
}

}  // namespace
}  // namespace gatehouse::password
