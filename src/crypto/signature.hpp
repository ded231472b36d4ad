#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"
#include "crypto/digest.hpp"
#include "crypto/openssl.hpp"

namespace gatehouse::crypto {

enum class SigScheme {
  RsaPkcs1,  // RSASSA-PKCS1-v1_5
  RsaPss,    // RSASSA-PSS, MGF1 with the same digest, salt = digest length (RFC 7518 §3.5)
  Ecdsa,     // ECDSA with the IEEE P1363 r||s encoding (RFC 7518 §3.4)
  Ed25519,   // PureEdDSA (RFC 8032); the digest is ignored
};

// Signs `data`. Returns Internal when OpenSSL fails (for instance a public-only key).
[[nodiscard]] core::Result<std::string> sign(const EVP_PKEY* key, SigScheme scheme, Digest digest,
                                             std::string_view data);

// True only for a valid signature in the exact encoding: RSA signatures the modulus length,
// ECDSA exactly 2×field bytes with 0 < r, s < n (CVE-2022-21449), Ed25519 exactly 64 bytes.
bool verify(const EVP_PKEY* key, SigScheme scheme, Digest digest, std::string_view data,
            std::string_view signature);

}  // namespace gatehouse::crypto
