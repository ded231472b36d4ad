#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "auth/api_keys.hpp"
#include "auth/revocations.hpp"
#include "auth/user_cache.hpp"
#include "core/clock.hpp"

namespace gatehouse::app {

// Background upkeep: applies user and key changes made elsewhere (CLI, other nodes) to the caches
// every second, or at once when woken by another node's poke; with shared state, re-reads the
// revocations every 30 s (a backstop for a node that could not publish); purges expired
// revocations (and, through `purge_more`, other ended state) half a second after the start and
// then every five minutes so the set stays bounded; a purge that ran out of its time with rows
// left (`purge_more` says so) goes on at the next tick, after the caches' sync, with only what
// was left (`purge_more(now, true)`). `every_tick` runs first on each tick (twice a second).
class Janitor {
 public:
  Janitor(auth::RevocationList& list, auth::UserCache& cache, auth::ApiKeyService& keys,
          const core::Clock& clock, bool shared, std::function<bool(std::int64_t, bool)> purge_more,
          std::function<void()> every_tick);
  Janitor(const Janitor&) = delete;
  Janitor& operator=(const Janitor&) = delete;
  ~Janitor();
  // Syncs the caches now (another node changed something).
  void wake();

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool poked_ = false;
  std::thread thread_;
};

}  // namespace gatehouse::app
