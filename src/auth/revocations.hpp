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
  // Persists, remembers, then tells the other nodes. Fails only when it could not be stored: a
  // message the bus refuses is logged, and the others read the stored revocation within 30 s.
  [[nodiscard]] core::Status revoke(std::string_view jti, std::int64_t expires_at);
  bool isRevoked(std::string_view jti) const;
  // Ends every access token of a session at once (API.md: "a session ends as a whole"): tokens
  // carry `sid`, and a session id is held here until its last access token would have expired.
  [[nodiscard]] core::Status revokeSession(std::string_view session_id, std::int64_t until);
  // A session's entry the store already wrote (a refresh rotation's transaction, on reuse):
  // remembered here and told to the other nodes, with no second write that could fail between.
  void announceSession(std::string_view session_id, std::int64_t until);
  bool isSessionRevoked(std::string_view session_id) const;
  // A deleted OpenID client's entry the store wrote with the deletion: every access token
  // naming that client ends, on this node and (told now) the others.
  void announceClient(std::string_view client_id, std::int64_t until);
  bool isClientRevoked(std::string_view client_id) const;
  // False while this node may have missed revocations pushed by others: callers fail closed.
  bool live() const { return bus_ == nullptr || bus_->live(); }
  // A revocation message from the bus ("revoked <exp> <jti>"); false when it is not one.
  bool applyMessage(std::string_view message);
  static std::string message(std::string_view jti, std::int64_t expires_at);
  // Drops expired entries from memory and storage; returns how many were dropped from memory.
  std::size_t purge(std::int64_t now);
  std::size_t size() const;

 private:
  // Remembers, then tells the other nodes (a refused message is logged: they read it stored).
  void announce(std::string_view jti, std::int64_t expires_at);
  // Holds `key` until at least `expires_at` (an entry is never shortened: a late or repeated
  // message must not let a token back early). Under the write lock.
  void raise(std::string key, std::int64_t expires_at);

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
