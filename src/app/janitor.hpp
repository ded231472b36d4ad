#pragma once

#include <atomic>
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
// twice a second, or at once when woken by another node's poke (`every_tick` runs first on each
// tick); re-reads the revocations every 30 s (a backstop for a node that could not publish, and
// how the CLI's entries reach a running server: `client delete`); and half a second after the
// start, then every five minutes, purges expired revocations and, through `purge_more(now, false)`,
// other ended state. That purge runs on a thread of its own (`gh-purge`, alive for the pass only),
// so a purge waiting on a lock never holds up the caches' reads; a pass that ran out of its time
// with rows left (`purge_more` says so) goes on half a second later with what was left
// (`purge_more(now, true)`). Its methods are thread-safe; the functions given run on its threads.
class Janitor {
 public:
  Janitor(auth::RevocationList& list, auth::UserCache& cache, auth::ApiKeyService& keys,
          const core::Clock& clock, std::function<bool(std::int64_t, bool)> purge_more,
          std::function<void()> every_tick);
  Janitor(const Janitor&) = delete;
  Janitor& operator=(const Janitor&) = delete;
  ~Janitor();
  // Syncs the caches now (another node changed something).
  void wake();

 private:
  void startPurge(auth::RevocationList& list, const core::Clock& clock);

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool poked_ = false;
  const std::function<bool(std::int64_t, bool)> purge_more_;
  std::atomic<bool> purging_{false};
  std::thread purger_;  // the pass under way, or the last one (joined before the next)
  std::thread thread_;  // last: it starts once the rest is made
};

}  // namespace gatehouse::app
