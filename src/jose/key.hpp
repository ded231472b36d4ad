#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "crypto/hmac.hpp"
#include "crypto/openssl.hpp"
#include "jose/algorithm.hpp"

namespace gatehouse::jose {

// A signing or verification key bound to exactly one algorithm (RFC 8725 §3.1): the token
// header can only confirm that algorithm, never choose another. Immutable and thread-safe.
class Key {
 public:
  // HMAC key; InvalidArgument unless `alg` is HS* and the secret is at least the hash output
  // (RFC 7518 §3.2).
  [[nodiscard]] static core::Result<Key> hmac(Algorithm alg, std::string secret,
                                              std::string kid = {});
  // RSA (≥ 2048 bits, odd e ≥ 3, no ROCA fingerprint), EC on the algorithm's curve, or Ed25519
  // for EdDSA; InvalidArgument when the key does not fit the algorithm.
  [[nodiscard]] static core::Result<Key> asymmetric(Algorithm alg, crypto::SharedPkey pkey,
                                                    std::string kid = {});

  Algorithm algorithm() const { return alg_; }
  const std::string& kid() const { return kid_; }
  bool isSymmetric() const { return hmac_.has_value(); }
  bool canSign() const;
  // The OpenSSL key for asymmetric algorithms; nullptr for HMAC.
  const EVP_PKEY* pkey() const { return pkey_.get(); }
  // The HMAC secret; empty for asymmetric keys.
  std::string_view secret() const;

  // A copy with a different kid.
  Key withKid(std::string kid) const;

  // Signature bytes over `data`; Internal when this key cannot sign.
  [[nodiscard]] core::Result<std::string> signBytes(std::string_view data) const;
  bool verifyBytes(std::string_view data, std::string_view signature) const;

 private:
  Key(Algorithm alg, std::optional<crypto::HmacKey> hmac, crypto::SharedPkey pkey, std::string kid,
      bool can_sign)
      : alg_(alg),
        hmac_(std::move(hmac)),
        pkey_(std::move(pkey)),
        kid_(std::move(kid)),
        can_sign_(can_sign) {}

  Algorithm alg_;
  std::optional<crypto::HmacKey> hmac_;
  crypto::SharedPkey pkey_;
  std::string kid_;
  bool can_sign_;
};

}  // namespace gatehouse::jose
