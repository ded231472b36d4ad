#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.hpp"
#include "store/postgres/pg_db.hpp"

namespace gatehouse::store::postgres {

// How a serving node keeps its one-time values (sign-in codes, spent challenges): in Redis,
// where every node sees them, or in its own memory, where no other node does.
enum class Keeping { Shared, Own };

// A serving node as the roster shows it. Entries order by when the node joined, by the
// database's clock (one clock for every node: a node whose own clock ran behind would otherwise
// count as the earlier), then by its session's process id: every node sees the same order.
struct RosterEntry {
  Keeping keeping = Keeping::Own;
  std::int64_t started = 0;  // when it joined, in milliseconds since kRosterEpoch
  std::int64_t pid = 0;      // its roster session's backend process id
  auto operator<=>(const RosterEntry& other) const {
    return std::tie(started, pid) <=> std::tie(other.started, other.pid);
  }
  bool operator==(const RosterEntry& other) const = default;
};

// The roster's milliseconds count from here (2020-09-13, in Unix seconds).
constexpr std::int64_t kRosterEpoch = 1'600'000'000;

// The serving nodes of one PostgreSQL database. Each holds a shared session-level advisory lock
// whose two keys say how it keeps its one-time values and when it joined; pg_locks lists who
// holds one, and a node that ends (or loses its connection) leaves without a word. No table, so
// no migration, and nothing is left behind by a node that crashed. Not thread-safe: one thread
// (the watch's) looks. Nodes of versions before this one hold no lock and are not listed.
class NodeRoster {
 public:
  // Opens a connection of its own (the lock lives as long as it does) and reads the database's
  // clock for this node's place in the order; enters nothing yet.
  [[nodiscard]] static core::Result<std::unique_ptr<NodeRoster>> open(std::string url,
                                                                      Keeping keeping);
  NodeRoster(const NodeRoster&) = delete;
  NodeRoster& operator=(const NodeRoster&) = delete;
  ~NodeRoster();

  // Takes this node's place (again, after a lost connection: a new session, a new pid).
  [[nodiscard]] core::Status enter();
  // Gives it up; the connection stays.
  [[nodiscard]] core::Status leave();
  bool entered() const { return entered_; }
  // This node's entry (its pid is the current session's; 0 before the first enter).
  const RosterEntry& self() const { return self_; }
  // The database's clock, in Unix milliseconds.
  [[nodiscard]] core::Result<std::int64_t> databaseMillis();
  // The other nodes holding a place now. A lost connection is Unavailable; the next call
  // connects again (and the place is gone until enter).
  [[nodiscard]] core::Result<std::vector<RosterEntry>> others();

 private:
  NodeRoster(std::string url, Keeping keeping);
  [[nodiscard]] core::Result<Connection*> connection();
  template <class T>
  core::Result<T> dropOnLoss(core::Result<T> result);

  const std::string url_;
  std::unique_ptr<Connection> conn_;
  RosterEntry self_;
  bool entered_ = false;
};

}  // namespace gatehouse::store::postgres
