#include "core/sharded_mutex.hpp"

#include <atomic>

namespace gatehouse::core {

std::size_t ShardedSharedMutex::threadShard() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}

}  // namespace gatehouse::core
