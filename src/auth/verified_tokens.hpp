#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

#include "jose/jwt.hpp"

namespace gatehouse::auth {

// Access tokens this node has verified under one key set, so that a token presented again (a
// client sends the same token until it expires) skips the signature check and the claims parse
// (7-11% of a /verify's CPU, measured). Keyed by the SHA-256 of the whole token, compared in
// constant time: only the exact bytes verified before hit. The caller checks the claims' times
// again at every hit (jose::checkTimes) and forgets an expired one; revocation, the user and the
// session are checked after this, hit or not.
//
// Bounded: two generations of at most `capacity` entries each. A full current generation becomes
// the previous one, whose entries still hit, and the one before is dropped outside the lock, so a
// working set a little over the capacity does not empty the cache all at once. Retired with its
// key set: a retired cache is empty and remembers nothing more. Thread-safe.
class VerifiedTokens {
 public:
  VerifiedTokens() = default;
  explicit VerifiedTokens(std::size_t capacity) : capacity_(capacity) {}

  // What an entry is found by: the SHA-256 of the whole token, computed once per check and
  // compared in constant time. Empty only if the digest fails (then nothing is cached).
  using Key = std::array<unsigned char, 32>;
  static std::optional<Key> keyOf(std::string_view token);

  // The claims the token with `key` verified to, or null.
  std::shared_ptr<const jose::Claims> find(const Key& key) const;
  // Records the claims a token verified to just now and returns what it keeps (also when it
  // keeps nothing: no key, or retired): `claims` moved into plain memory, out of the parse arena
  // (which is not thread-safe and grows with each copy made from it), that every hit then shares.
  std::shared_ptr<const jose::Claims> remember(const std::optional<Key>& key,
                                               jose::Claims&& claims) const;
  // Drops the entry for `key` (its token expired).
  void forget(const Key& key) const;
  // Empties the cache for good: its key set is no longer used.
  void retire() const;

  std::size_t size() const;
  std::uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }

 private:
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct KeyEqual {
    bool operator()(const Key& a, const Key& b) const;
  };
  using Map = std::unordered_map<Key, std::shared_ptr<const jose::Claims>, KeyHash, KeyEqual>;

  std::size_t capacity_ = 2048;
  mutable std::shared_mutex mutex_;
  mutable Map current_;
  mutable Map previous_;
  mutable bool retired_ = false;
  mutable std::atomic<std::uint64_t> hits_{0};
};

}  // namespace gatehouse::auth
