#include "password/hash_pool.hpp"

#include <algorithm>
#include <thread>

namespace gatehouse::password {

HashPool::HashPool(Options options)
    : pool_({.name = "gh-hash",
             .max_threads = options.threads != 0
                                ? options.threads
                                : std::max(1U, std::thread::hardware_concurrency()),
             .min_threads = 0,
             .queue_capacity = options.queue_capacity,
             .nice = options.nice}) {}

}  // namespace gatehouse::password
