#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// Revoked access-token ids, held in memory for the hot path and persisted so a restart (or
// another node) rebuilds the same set. Entries leave once their token would have expired anyway.
// Thread-safe: lookups take a shared lock.
class RevocationList {
 public:
  explicit RevocationList(store::RevocationStore& store) : store_(&store) {}

  // Loads the unexpired entries from storage (at startup).
  core::Status load(std::int64_t now);
  // Persists, then publishes in memory.
  core::Status revoke(std::string_view jti, std::int64_t expires_at);
  bool isRevoked(std::string_view jti) const;
  // Drops expired entries from memory and storage; returns how many were dropped from memory.
  std::size_t purge(std::int64_t now);
  std::size_t size() const;

 private:
  store::RevocationStore* store_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::int64_t> entries_;
};

}  // namespace gatehouse::auth
