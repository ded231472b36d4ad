#include "core/sharded_mutex.hpp"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

TEST(ShardedSharedMutex, WritersExcludeReadersOnEveryThread) {
  ShardedSharedMutex m;
  // Two values written together under the exclusive lock; readers must never see them differ.
  std::int64_t a = 0;
  std::int64_t b = 0;
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 6; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        {
          const std::shared_lock lock(m);
          if (a != b) ++torn;
          ++reads;
        }
        // Without a pause six readers on two cores take their shards back before the woken
        // writer runs (glibc's rwlock prefers readers), and the writes crawl.
        std::this_thread::yield();
      }
    });
  }
  // Write until the readers have really interleaved with the writer (not just run after it).
  std::int64_t writes = 0;
  while (writes < 2000 || reads.load() < 2000) {
    const std::unique_lock lock(m);
    ++a;
    std::this_thread::yield();  // a reader the lock does not hold off would see a != b here
    ++b;
    ++writes;
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GE(reads.load(), 2000);
  EXPECT_EQ(a, writes);
}

TEST(ShardedSharedMutex, TryLockFailsWhileAReaderHoldsAndSucceedsAfter) {
  ShardedSharedMutex m;
  {
    const std::shared_lock reader(m);
    std::thread other([&] { EXPECT_FALSE(m.try_lock()); });
    other.join();
  }
  EXPECT_TRUE(m.try_lock());
  std::thread other([&] { EXPECT_FALSE(m.try_lock_shared()); });
  other.join();
  m.unlock();
}

}  // namespace
}  // namespace gatehouse::core
