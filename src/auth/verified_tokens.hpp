#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

#include "jose/jwt.hpp"

namespace gatehouse::auth {

// Access tokens this node has verified under one key set, so that a token presented again (a
// client sends the same token until it expires) skips the signature check and the claims parse,
// about a sixth of a token check's CPU. Keyed by the SHA-256 of the whole token, compared in
// constant time: only the exact bytes verified before hit. The caller checks the claims' times
// again at every hit (jose::checkTimes); revocation, the user and the session are checked after
// this, hit or not. Bounded: a full cache is emptied (each entry costs one verification to make
// again). Thread-safe.
class VerifiedTokens {
 public:
  VerifiedTokens() = default;
  explicit VerifiedTokens(std::size_t capacity) : capacity_(capacity) {}

  // The claims `token` verified to, or null.
  std::shared_ptr<const jose::Claims> find(std::string_view token) const;
  // Records claims that `token` verified to just now (copied out of their parse arena).
  void remember(std::string_view token, jose::Claims claims) const;
  void clear() const;
  std::size_t size() const;

 private:
  using Key = std::array<unsigned char, 32>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct KeyEqual {
    bool operator()(const Key& a, const Key& b) const;
  };
  static bool keyOf(std::string_view token, Key& out);

  std::size_t capacity_ = 4096;
  mutable std::shared_mutex mutex_;
  mutable std::unordered_map<Key, std::shared_ptr<const jose::Claims>, KeyHash, KeyEqual> map_;
};

}  // namespace gatehouse::auth
