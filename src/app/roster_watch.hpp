#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "state/once.hpp"
#include "store/postgres/pg_roster.hpp"

namespace gatehouse::app {

// Where a node that keeps its one-time values in its own memory stands.
enum class Stand {
  Serving,  // the one such node serving them: its place taken, its store open
  Waiting,  // its place taken, its store closed until an older such node steps aside
  Aside,    // no place, its store closed (/readyz 503) while another node serves them
};

// What such a node does next, seeing `others` in the roster. A node sharing its values through
// Redis, or one without Redis that started later (the new node of a rolling update), sends it
// aside; a later one waits for the earlier to step aside rather than the other way round, so an
// update that starts the new node before stopping the old never waits on itself.
Stand nextStand(Stand now, const store::postgres::RosterEntry& self,
                const std::vector<store::postgres::RosterEntry>& others);

// One-time values (sign-in codes, spent challenges) are single use on every node. Nodes on one
// PostgreSQL share them through Redis; a node without REDIS_URL keeps them in its own memory,
// where a code spent on another node is unknown. So such a node serves them only while it is the
// one node on the database that does (found by an outside attack: a node configured apart
// accepted what others had spent). Nodes of earlier versions are not in the roster.
class RosterWatch {
 public:
  // `own` is the node's store when it keeps its own values, null when it shares them.
  RosterWatch(std::unique_ptr<store::postgres::NodeRoster> roster, state::LocalOneTimeStore* own,
              const core::Clock& clock);
  RosterWatch(const RosterWatch&) = delete;
  RosterWatch& operator=(const RosterWatch&) = delete;
  ~RosterWatch();  // stops the looking thread, if any

  // Before the node listens: takes its place, then waits up to `patience` for nodes without
  // Redis to step aside (a node sharing through Redis), or for an older one to (a node without).
  void start(std::chrono::milliseconds patience);
  // Then: looks twice a second on a thread of its own (gh-roster). Not the janitor's: its reads
  // of the change logs may stall for seconds on a locked table while the roster is fine, and the
  // lease of a lone node ran out behind them (a review).
  void watch();
  // One look: follows the roster (watch() calls it; start() before it).
  void look();
  // False while this node keeps its own values and does not serve them (readiness says 503):
  // standing aside or waiting, or past its store's lease (its looks stalled).
  bool serving() const {
    return !aside_.load() &&
           std::chrono::steady_clock::now().time_since_epoch().count() <= lease_until_.load();
  }

 private:
  void advance(const std::vector<store::postgres::RosterEntry>& others);
  void renew(std::chrono::steady_clock::time_point from);  // the store's lease, from `from`
  void moveTo(Stand next, const char* why);

  // A node serving renews its store's lease each look (twice a second); one that cannot look
  // stops serving when it runs out. A node about to serve waits longer than that after seeing
  // the way clear, so one that lost its place unseen has stopped by then.
  static constexpr std::chrono::milliseconds kLease{1000};
  static constexpr std::chrono::milliseconds kGrace{1500};

  std::unique_ptr<store::postgres::NodeRoster> roster_;
  state::LocalOneTimeStore* const own_;
  const core::Clock& clock_;
  Stand stand_ = Stand::Aside;
  std::optional<std::chrono::steady_clock::time_point> clear_since_;  // Waiting, way clear since
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
  std::atomic<bool> aside_{false};
  std::atomic<std::chrono::steady_clock::rep> lease_until_{0};  // the store's lease, as renewed
  bool served_ = false;          // it has served once (a later Serving is a return)
  bool said_own_nodes_ = false;  // a sharing node: the error about nodes without Redis is said
  bool said_unseen_ = false;     // the roster could not be read (said once until it can)
};

}  // namespace gatehouse::app
