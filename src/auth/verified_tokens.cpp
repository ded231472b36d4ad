#include "auth/verified_tokens.hpp"

#include <cstring>
#include <mutex>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/digest.hpp"

namespace gatehouse::auth {

std::size_t VerifiedTokens::KeyHash::operator()(const Key& k) const {
  std::size_t h = 0;
  std::memcpy(&h, k.data(), sizeof h);  // a uniform hash already
  return h;
}

bool VerifiedTokens::KeyEqual::operator()(const Key& a, const Key& b) const {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<VerifiedTokens::Key> VerifiedTokens::keyOf(std::string_view token) {
  Key key{};
  unsigned int n = 0;
  if (EVP_Digest(token.data(), token.size(), key.data(), &n, crypto::evpMd(crypto::Digest::Sha256),
                 nullptr) != 1 ||
      n != key.size())
    return std::nullopt;
  return key;
}

std::shared_ptr<const jose::Claims> VerifiedTokens::find(const Key& key) const {
  const std::shared_lock lock(mutex_);
  auto it = current_.find(key);
  if (it == current_.end()) {
    it = previous_.find(key);
    if (it == previous_.end()) return nullptr;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second;
}

std::shared_ptr<const jose::Claims> VerifiedTokens::remember(const std::optional<Key>& key,
                                                             jose::Claims&& claims) const {
  // The strings own plain memory already and move; `raw` is copied out of the arena (assigning
  // it would copy into the arena again: a json::object keeps its own storage).
  auto kept = std::make_shared<const jose::Claims>(jose::Claims{
      .sub = std::move(claims.sub),
      .exp = claims.exp,
      .iat = claims.iat,
      .nbf = claims.nbf,
      .jti = std::move(claims.jti),
      .iss = std::move(claims.iss),
      .type = std::move(claims.type),
      .scopes = std::move(claims.scopes),
      .raw = boost::json::object(claims.raw, boost::json::storage_ptr()),
  });
  if (capacity_ == 0 || !key) return kept;
  Map dropped;  // freed after the lock is released
  {
    const std::unique_lock lock(mutex_);
    if (retired_) return kept;
    if (current_.size() >= capacity_) {
      dropped.swap(previous_);
      previous_.swap(current_);
    }
    current_.insert_or_assign(*key, kept);
  }
  return kept;
}

void VerifiedTokens::forget(const Key& key) const {
  const std::unique_lock lock(mutex_);
  current_.erase(key);
  previous_.erase(key);
}

void VerifiedTokens::retire() const {
  Map current;
  Map previous;
  {
    const std::unique_lock lock(mutex_);
    retired_ = true;
    current.swap(current_);
    previous.swap(previous_);
  }
}

std::size_t VerifiedTokens::size() const {
  const std::shared_lock lock(mutex_);
  return current_.size() + previous_.size();
}

}  // namespace gatehouse::auth
