#include "auth/verified_tokens.hpp"

#include <cstring>
#include <mutex>

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
  const auto it = map_.find(key);
  return it == map_.end() ? nullptr : it->second;
}

void VerifiedTokens::remember(std::string_view token, jose::Claims claims) const {
  Key key{};
  if (capacity_ == 0 || !keyOf(token, key)) return;
  // The parse left `raw` in a monotonic arena, which is not thread-safe and would grow with each
  // copy made from it; the kept claims own plain memory, so every hit may copy them.
  auto value = std::make_shared<const jose::Claims>(jose::Claims{
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
  const std::unique_lock lock(mutex_);
  if (map_.size() >= capacity_) map_.clear();
  map_.insert_or_assign(key, std::move(value));
}

void VerifiedTokens::clear() const {
  const std::unique_lock lock(mutex_);
  map_.clear();
}

std::size_t VerifiedTokens::size() const {
  const std::shared_lock lock(mutex_);
  return map_.size();
}

}  // namespace gatehouse::auth
