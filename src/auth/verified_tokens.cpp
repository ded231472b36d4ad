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

bool VerifiedTokens::keyOf(std::string_view token, Key& out) {
  unsigned int n = 0;
  return EVP_Digest(token.data(), token.size(), out.data(), &n,
                    crypto::evpMd(crypto::Digest::Sha256), nullptr) == 1 &&
         n == out.size();
}

std::shared_ptr<const jose::Claims> VerifiedTokens::find(std::string_view token) const {
  Key key{};
  if (!keyOf(token, key)) return nullptr;
  const std::shared_lock lock(mutex_);
  auto it = current_.find(key);
  if (it == current_.end()) {
    it = previous_.find(key);
    if (it == previous_.end()) return nullptr;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second;
}

std::shared_ptr<const jose::Claims> VerifiedTokens::remember(std::string_view token,
                                                             const jose::Claims& claims) const {
  auto kept = std::make_shared<const jose::Claims>(jose::Claims{
      .sub = claims.sub,
      .exp = claims.exp,
      .iat = claims.iat,
      .nbf = claims.nbf,
      .jti = claims.jti,
      .iss = claims.iss,
      .type = claims.type,
      .scopes = claims.scopes,
      .raw = boost::json::object(claims.raw, boost::json::storage_ptr()),
  });
  Key key{};
  if (capacity_ == 0 || !keyOf(token, key)) return kept;
  Map dropped;  // freed after the lock is released
  {
    const std::unique_lock lock(mutex_);
    if (retired_) return kept;
    if (current_.size() >= capacity_) {
      dropped.swap(previous_);
      previous_.swap(current_);
    }
    current_.insert_or_assign(key, kept);
  }
  return kept;
}

void VerifiedTokens::forget(std::string_view token) const {
  Key key{};
  if (!keyOf(token, key)) return;
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
