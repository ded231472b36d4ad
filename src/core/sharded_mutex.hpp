#pragma once

#include <array>
#include <cstddef>
#include <shared_mutex>

namespace gatehouse::core {

// A reader-writer lock for read-mostly data on the hot path: each thread takes the shared lock of
// its own shard (its own cache line), so readers on different cores never write to a common
// line; a writer takes every shard. Satisfies SharedMutex, so std::shared_lock and
// std::unique_lock work with it.
class ShardedSharedMutex {
 public:
  void lock() {
    for (auto& s : shards_) s.mutex.lock();
  }
  void unlock() {
    for (auto& s : shards_) s.mutex.unlock();
  }
  bool try_lock() {
    for (std::size_t i = 0; i < kShards; ++i) {
      if (!shards_[i].mutex.try_lock()) {
        while (i > 0) shards_[--i].mutex.unlock();
        return false;
      }
    }
    return true;
  }
  void lock_shared() { shards_[threadShard()].mutex.lock_shared(); }
  bool try_lock_shared() { return shards_[threadShard()].mutex.try_lock_shared(); }
  void unlock_shared() { shards_[threadShard()].mutex.unlock_shared(); }

 private:
  static constexpr std::size_t kShards = 16;
  struct alignas(64) Shard {
    std::shared_mutex mutex;
  };
  // The calling thread's shard: fixed for the thread's life (threads are numbered as they first
  // get here), so unlock_shared finds the shard lock_shared took.
  static std::size_t threadShard();

  std::array<Shard, kShards> shards_;
};

}  // namespace gatehouse::core
