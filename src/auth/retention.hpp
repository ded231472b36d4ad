#pragma once

#include <chrono>
#include <cstdint>

#include "core/error.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// How long the store keeps what has ended, and the purge every node's janitor runs every few
// minutes, so the sessions and API keys tables hold what is live, not every login ever made.
// A row goes a day after it could last change an answer: an expired session's access tokens live
// up to an access-token lifetime past its expiry (a token check may read the session until then,
// and a password change ends them through it); an ended session or a revoked key answers as a
// missing one does at once, and the day is for whoever looks at the database after an incident
// (the audit log keeps their history for good).
struct Retention {
  std::chrono::seconds access_ttl{30 * 60};  // ACCESS_TOKEN_EXPIRE_MINUTES
  std::chrono::seconds keep{24 * 3600};
  // Rows per statement and statements per kind and pass: a backlog (the first pass after an
  // upgrade) drains over several passes instead of holding SQLite's write lock for one long
  // statement.
  std::int64_t batch = 1000;
  int batches_per_pass = 50;
};

struct Purged {
  std::int64_t sessions = 0;
  std::int64_t api_keys = 0;
};

// One pass at `now` (Unix seconds); stops at the first storage failure.
[[nodiscard]] core::Result<Purged> purgeEnded(store::Store& store, std::int64_t now,
                                              const Retention& retention);

}  // namespace gatehouse::auth
