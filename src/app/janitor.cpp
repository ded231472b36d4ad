#include "app/janitor.hpp"

#include "core/failure_log.hpp"
#include "core/log.hpp"
#include "core/this_thread.hpp"

namespace gatehouse::app {

using core::FailureLog;

Janitor::Janitor(auth::RevocationList& list, auth::UserCache& cache, auth::ApiKeyService& keys,
                 const core::Clock& clock, std::function<bool(std::int64_t, bool)> purge_more,
                 std::function<void()> every_tick)
    : purge_more_(std::move(purge_more)),
      thread_([this, &list, &cache, &keys, &clock, every_tick = std::move(every_tick)] {
        core::nameThisThread("gh-janitor");
        using Steady = std::chrono::steady_clock;
        auto last_reload = Steady::now();
        constexpr auto kPurgeEvery = std::chrono::minutes(5);
        // The first purge on the first tick: a restart (an upgrade) purges at once. (Not the
        // clock's epoch: the steady clock counts from boot.)
        auto last_purge = Steady::now() - kPurgeEvery;
        FailureLog users_log;
        FailureLog keys_log;
        FailureLog revocations_log;

        std::unique_lock lock(mutex_);
        while (!stop_) {
          // Twice a second: a key rotation reaches every node within a second.
          wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_ || poked_; });
          if (stop_) break;
          poked_ = false;
          lock.unlock();
          if (every_tick) every_tick();
          logOutcome(users_log, "user cache sync", cache.sync());
          logOutcome(keys_log, "API key cache sync", keys.sync());
          const auto now = Steady::now();
          if (now - last_reload >= std::chrono::seconds(30)) {
            logOutcome(revocations_log, "re-reading revocations", list.load(clock.unixSeconds()));
            last_reload = now;
          }
          if (now - last_purge >= kPurgeEvery && !purging_.load()) {
            last_purge = now;
            startPurge(list, clock);
          }
          lock.lock();
        }
      }) {}

// A pass on a thread of its own, so a purge waiting on a lock (an index being built, another
// process's write) never holds up the caches' reads of the change logs, whose trust window it
// would otherwise run out. Continuations half a second apart, until nothing is left or the
// Janitor stops. Only the janitor thread calls this, and never while a pass runs.
void Janitor::startPurge(auth::RevocationList& list, const core::Clock& clock) {
  if (purger_.joinable()) purger_.join();  // the last pass, ended
  purging_.store(true);
  purger_ = std::thread([this, &list, &clock] {
    core::nameThisThread("gh-purge");
    list.purge(clock.unixSeconds());
    bool left = purge_more_ && purge_more_(clock.unixSeconds(), false);
    while (left) {
      {
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; })) break;
      }
      left = purge_more_(clock.unixSeconds(), true);
    }
    purging_.store(false);
  });
}

void Janitor::wake() {
  {
    const std::lock_guard lock(mutex_);
    poked_ = true;
  }
  wake_.notify_all();
}

Janitor::~Janitor() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (purger_.joinable()) purger_.join();
}

}  // namespace gatehouse::app
