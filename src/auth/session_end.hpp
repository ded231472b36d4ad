#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "auth/errors.hpp"
#include "auth/revocations.hpp"
#include "core/clock.hpp"
#include "jose/jwt.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// Ends sessions as a whole (API.md: a session ends as a whole): in storage, and every access
// token of them on every node through the revocation list. What password flows, sessions and
// user administration share. Thread-safe.
class SessionEnd {
 public:
  SessionEnd(store::Store& store, RevocationList& revocations, const core::Clock& clock,
             std::chrono::seconds access_ttl)
      : store_(store), revocations_(revocations), clock_(clock), access_ttl_(access_ttl) {}

  // The user's sessions that may still have live access tokens: listed before a password change
  // or deactivation ends them in storage, so endTokens() can end their access tokens too.
  [[nodiscard]] Result<std::vector<std::string>> liveSessionsOf(std::int64_t user_id);
  // Every access token of these sessions, on every node (their storage rows are ended by the
  // caller's own transaction).
  [[nodiscard]] Result<void> endTokens(const std::vector<std::string>& session_ids);
  [[nodiscard]] Result<void> endTokens(const std::string& session_id);
  // Its access tokens, then the session in storage (a failure between leaves it listed: a retry
  // ends it).
  [[nodiscard]] Result<void> end(const std::string& session_id);
  // What a revocation (RFC 7009, the API's and the OpenID Provider's) still has to end: an access
  // token unexpired, not listed and of a session whose tokens were not ended; a session whose row
  // is live, or expired less than an access-token lifetime ago with its tokens not ended (an
  // ended one ended its tokens with it). A revocation of what has nothing left writes and records
  // nothing: the same token sent again grows nothing (an outside attack added an audit row per
  // call, anonymously, for a refresh token's life).
  [[nodiscard]] bool accessTokenLive(const jose::Claims& claims) const;
  [[nodiscard]] Result<bool> sessionLive(const std::string& session_id);
  // Until when a session ended now must stay on the revocation list: its last access token's
  // expiry (what a refresh rotation stores on reuse, in its own transaction).
  [[nodiscard]] std::int64_t tokensUntil() const {
    return clock_.unixSeconds() + access_ttl_.count();
  }
  // Whether the session's access tokens were ended (its revocation-list entry): then its refresh
  // token is refused too, and the session ended in storage, should that write have failed after
  // the entry (a logout that stopped halfway left a session whose refresh token went on).
  [[nodiscard]] bool endedByList(const std::string& session_id);
  // The access tokens of a session whose revocation-list entry the store wrote (`until`, given to
  // it): this node and the others stop them now, with no second write that could fail first.
  void tokensEnded(const std::string& session_id, std::int64_t until) {
    revocations_.announceSession(session_id, until);
  }

 private:
  store::Store& store_;
  RevocationList& revocations_;
  const core::Clock& clock_;
  std::chrono::seconds access_ttl_;
};

}  // namespace gatehouse::auth
