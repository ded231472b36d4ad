#pragma once

#include <chrono>
#include <cstdint>

#include "core/error.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// How long the store keeps what has ended, and the purge every node's janitor runs, so the
// sessions and API keys tables hold what is live, not every login ever made. A row goes once it
// is a day past the last moment it could change an answer: an expired session an access-token
// lifetime plus a day after its expiry (its access tokens live up to that lifetime past it, a
// token check may read the session until then, and a password change ends them through it); an
// ended session or a revoked key as long after its last use (no time of revocation is stored;
// either answers as a missing one does at once). The audit log keeps their history. Sessions
// traded for seed refresh tokens stay while seed tokens still trade (they keep them spent).
// The change logs (users, API keys) keep a day: a node that has not read one for that long is
// told it missed changes, and its cache starts again empty.
struct Retention {
  std::chrono::seconds access_ttl{30 * 60};  // ACCESS_TOKEN_EXPIRE_MINUTES
  std::chrono::seconds keep{24 * 3600};
  std::int64_t legacy_until = 0;  // seed refresh tokens trade until then (Unix seconds; 0: none)
  // Rows per statement, and how long a pass may take: the janitor also applies other nodes'
  // changes to the caches, so a backlog (the first pass after an upgrade) drains over several
  // short passes, not one long one (nor one long statement holding SQLite's write lock).
  std::int64_t batch = 1000;
  std::chrono::milliseconds budget{200};
};

struct Purged {
  std::int64_t sessions = 0;
  std::int64_t api_keys = 0;
  std::int64_t changes = 0;  // rows of the two change logs
  bool more = false;         // the pass ended on its budget with rows left: run the next one soon
};

// One pass at `now` (Unix seconds); stops at the first storage failure.
[[nodiscard]] core::Result<Purged> purgeEnded(store::Store& store, std::int64_t now,
                                              const Retention& retention);

// The janitor's purge, pass after pass: authorization codes at the start of each (spent ones
// kept ten minutes past their expiry, so a late replay still ends what the first use issued),
// then purgeEnded; one log line when a pass (however many continuations it took) deleted
// anything, a warning when storage failed. Not thread-safe: one janitor runs it.
class RetentionPass {
 public:
  RetentionPass(store::Store& store, Retention retention) : store_(store), retention_(retention) {}
  // A pass at `now`, or (`continuing`) the continuation of the last one; true when rows are left
  // for a continuation.
  bool operator()(std::int64_t now, bool continuing);

 private:
  store::Store& store_;
  const Retention retention_;
  Purged total_;
};

}  // namespace gatehouse::auth
