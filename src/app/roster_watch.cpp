#include "app/roster_watch.hpp"

#include <algorithm>
#include <thread>

#include "core/log.hpp"
#include "core/this_thread.hpp"

namespace gatehouse::app {

using store::postgres::Keeping;
using store::postgres::RosterEntry;

Stand nextStand(Stand now, const RosterEntry& self, const std::vector<RosterEntry>& others) {
  const auto any = [&others](auto&& pred) {
    return std::any_of(others.begin(), others.end(), pred);
  };
  if (any([](const RosterEntry& o) { return o.keeping == Keeping::Shared; })) return Stand::Aside;
  if (any([&self](const RosterEntry& o) { return o.keeping == Keeping::Own && self < o; }))
    return Stand::Aside;
  const bool older =
      any([&self](const RosterEntry& o) { return o.keeping == Keeping::Own && o < self; });
  switch (now) {
    case Stand::Aside:
      // Back only to an empty roster: an older node in it serves, or is about to.
      return older ? Stand::Aside : Stand::Waiting;
    case Stand::Waiting:
      return older ? Stand::Waiting : Stand::Serving;
    case Stand::Serving:
      return Stand::Serving;  // an older one in it has come back, and steps aside on seeing this
  }
  return Stand::Aside;
}

RosterWatch::RosterWatch(std::unique_ptr<store::postgres::NodeRoster> roster,
                         state::LocalOneTimeStore* own, const core::Clock& clock)
    : roster_(std::move(roster)), own_(own), clock_(clock) {
  if (own_ != nullptr) {
    own_->close();  // until the roster says this node serves
    aside_.store(true);
  }
}

void RosterWatch::start(std::chrono::milliseconds patience) {
  if (own_ != nullptr) {
    moveTo(Stand::Waiting, "");
  } else if (auto ok = roster_->enter(); !ok) {
    spdlog::error("the node roster: this node's place was not taken: {}", ok.error().message);
  } else {
    look();  // says so when a node without Redis runs (and steps aside: it is waited for below)
  }
  const auto until = std::chrono::steady_clock::now() + patience;
  for (;;) {
    if (own_ != nullptr) {
      look();
      if (stand_ == Stand::Serving) return;
    } else {
      auto others = roster_->others();
      if (others && std::none_of(others->begin(), others->end(),
                                 [](const RosterEntry& o) { return o.keeping == Keeping::Own; }))
        return;
    }
    if (std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (own_ == nullptr) {
    spdlog::error("a node without REDIS_URL on this database has not stepped aside within {} ms",
                  patience.count());
  } else if (stand_ == Stand::Waiting) {
    spdlog::warn(
        "another node without REDIS_URL still serves one-time values on this database: this "
        "node waits for it to step aside (/readyz 503 until then)");
  }
}

void RosterWatch::watch() {
  thread_ = std::thread([this] {
    core::nameThisThread("gh-roster");
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; })) {
      lock.unlock();
      look();
      lock.lock();
    }
  });
}

RosterWatch::~RosterWatch() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RosterWatch::look() {
  // The lease counts from before the look was asked: a reply that came late (the session cut
  // just after the database answered) must not stretch it past another node's grace (a review).
  const auto asked = std::chrono::steady_clock::now();
  auto others = roster_->others();
  if (!others) {
    if (!said_unseen_) {
      spdlog::warn("the node roster could not be read: {}", others.error().message);
      said_unseen_ = true;
    }
    // Its place went with the connection: a node started meanwhile would not have seen it.
    if (own_ != nullptr && stand_ != Stand::Aside && !roster_->entered())
      moveTo(Stand::Aside, "it lost its place in the node roster (the database connection)");
    return;
  }
  said_unseen_ = false;
  if (own_ == nullptr) {
    if (!roster_->entered()) {
      if (auto ok = roster_->enter(); !ok)
        spdlog::warn("the node roster: this node's place was not taken again: {}",
                     ok.error().message);
    }
    const bool own_nodes = std::any_of(others->begin(), others->end(), [](const RosterEntry& o) {
      return o.keeping == Keeping::Own;
    });
    if (own_nodes && !said_own_nodes_) {
      spdlog::error(
          "a node without REDIS_URL runs on this database: it keeps one-time values of its own "
          "and stands aside while this node runs (its /readyz answers 503). Give every node "
          "REDIS_URL");
    }
    said_own_nodes_ = own_nodes;
    return;
  }
  advance(*others);
  if (stand_ == Stand::Waiting) {
    // Back in the roster: seen again at once, so a lone node counts its grace from this look.
    auto again = roster_->others();
    if (again) advance(*again);
  }
  // Serving, and still in its place: another half second's look has confirmed it.
  if (stand_ == Stand::Serving && roster_->entered()) renew(asked);
}

void RosterWatch::advance(const std::vector<RosterEntry>& others) {
  Stand next = nextStand(stand_, roster_->self(), others);
  if (stand_ == Stand::Waiting && next == Stand::Serving) {
    // Nothing before it any more; but a node whose place went with a lost connection may still
    // serve until its lease runs out (it has not looked yet): it serves after the grace, counted
    // from the first look that saw the way clear (a review saw two nodes serve for half a second).
    const auto now = std::chrono::steady_clock::now();
    if (!clear_since_) clear_since_ = now;
    if (now - *clear_since_ < kGrace) return;
  } else if (next != Stand::Serving) {
    clear_since_.reset();
  }
  const bool shared = std::any_of(others.begin(), others.end(), [](const RosterEntry& o) {
    return o.keeping == Keeping::Shared;
  });
  moveTo(next, shared ? "a node on this database shares one-time values through Redis, and this "
                        "one has no REDIS_URL"
                      : "another node without REDIS_URL started on this database later (the new "
                        "node of an update, or a second node that needs REDIS_URL)");
}

void RosterWatch::renew(std::chrono::steady_clock::time_point from) {
  const auto until = from + kLease;
  own_->renew(until);
  lease_until_.store(until.time_since_epoch().count());
}

void RosterWatch::moveTo(Stand next, const char* why) {
  if (next == stand_) return;
  switch (next) {
    case Stand::Aside:
      own_->close();
      aside_.store(true);
      // After closing: the node a later one waits for has stopped serving when it leaves.
      if (auto ok = roster_->leave(); !ok)
        spdlog::warn("the node roster: this node's place was not given up: {}", ok.error().message);
      spdlog::error(
          "one-time values: this node stands aside ({}): sign-in codes, challenges and "
          "exchange codes answer 503 here and /readyz 503, until it is the only node without "
          "Redis on this database",
          why);
      stand_ = Stand::Aside;
      return;
    case Stand::Waiting:
      if (auto ok = roster_->enter(); !ok) {  // stays aside; the next look tries again
        spdlog::warn("the node roster: this node's place was not taken: {}", ok.error().message);
        return;
      }
      stand_ = Stand::Waiting;
      return;
    case Stand::Serving: {
      // What it held before it stood aside may have been spent elsewhere since: gone, and
      // challenges made before now are refused, as after a restart. Now by the later of this
      // node's clock and the database's: a node whose clock ran behind the one it took over from
      // would otherwise take a challenge that node spent (a review).
      std::int64_t from = clock_.unixMillis().count();
      if (auto db = roster_->databaseMillis()) from = std::max(from, *db);
      own_->reopen(std::chrono::milliseconds(from));
      renew(std::chrono::steady_clock::now());
      aside_.store(false);
      if (served_) {
        spdlog::warn(
            "one-time values: this node serves them again (the only node without Redis on this "
            "database); what it held before is gone");
      }
      served_ = true;
      stand_ = Stand::Serving;
      return;
    }
  }
}

}  // namespace gatehouse::app
