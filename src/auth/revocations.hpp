#pragma once

#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.hpp"
#include "core/sharded_mutex.hpp"
#include "state/bus.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// Revoked access-token ids, held in memory for the hot path and persisted so a restart (or
// another node) rebuilds the same set. With a shared bus every revocation is also pushed to the
// other nodes at once. Entries leave once their token would have expired anyway.
// Thread-safe: lookups take a shared lock.
class RevocationList {
 public:
  explicit RevocationList(store::RevocationStore& store, state::Bus* bus = nullptr)
      : store_(&store), bus_(bus) {}

  // Loads the unexpired entries from storage (at startup, and after the bus reconnects).
  [[nodiscard]] core::Status load(std::int64_t now);
  // Persists, remembers, then tells the other nodes (Unavailable when they could not be told:
  // the revocation is stored and they re-read it when their feed resyncs).
  [[nodiscard]] core::Status revoke(std::string_view jti, std::int64_t expires_at);
  bool isRevoked(std::string_view jti) const;
  // Ends every access token of a session at once (API.md: "a session ends as a whole"): tokens
  // carry `sid`, and a session id is held here until its last access token would have expired.
  [[nodiscard]] core::Status revokeSession(std::string_view session_id, std::int64_t until);
  bool isSessionRevoked(std::string_view session_id) const;
  // False while this node may have missed revocations pushed by others: callers fail closed.
  bool live() const { return bus_ == nullptr || bus_->live(); }
  // A revocation message from the bus ("revoked <exp> <jti>"); false when it is not one.
  bool applyMessage(std::string_view message);
  static std::string message(std::string_view jti, std::int64_t expires_at);
  // Drops expired entries from memory and storage; returns how many were dropped from memory.
  std::size_t purge(std::int64_t now);
  std::size_t size() const;

 private:
  store::RevocationStore* store_;
  state::Bus* bus_;
  mutable core::ShardedSharedMutex mutex_;  // readers on different cores share no cache line
  // Transparent hashing: a lookup by string_view allocates nothing.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::int64_t, Hash, std::equal_to<>> entries_;
};

}  // namespace gatehouse::auth
