#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <openssl/evp.h>

#include "core/error.hpp"
#include "crypto/digest.hpp"

namespace gatehouse::crypto {

// An HMAC key with its digest fixed. Keyed once; each operation duplicates a prepared context,
// so sign/verify are thread-safe and skip re-keying. The secret is wiped on destruction.
class HmacKey {
 public:
  // Returns InvalidArgument when the secret is empty.
  [[nodiscard]] static core::Result<HmacKey> create(Digest digest, std::string secret);

  Digest digest() const { return digest_; }
  std::string_view secret() const;

  // The full-length tag; Internal if OpenSSL fails.
  [[nodiscard]] core::Result<std::string> sign(std::string_view data) const;
  // True when `tag` is exactly the full-length tag of `data` (compared in constant time).
  bool verify(std::string_view data, std::string_view tag) const;

 private:
  struct State;
  HmacKey(Digest digest, std::shared_ptr<const State> state)
      : digest_(digest), state_(std::move(state)) {}

  Digest digest_;
  std::shared_ptr<const State> state_;
};

// One-shot HMAC for references and tests.
[[nodiscard]] core::Result<std::string> hmac(Digest digest, std::string_view key,
                                             std::string_view data);

}  // namespace gatehouse::crypto
