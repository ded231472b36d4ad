#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "crypto/openssl.hpp"
#include "webauthn/cbor.hpp"

namespace gatehouse::webauthn {

// COSE algorithm identifiers (IANA "COSE Algorithms") a credential may use.
enum class CoseAlg : std::int64_t {
  ES256 = -7,
  EdDSA = -8,  // Ed25519 only (OKP curve 6)
  ES384 = -35,
  ES512 = -36,
  RS256 = -257,
};

std::optional<CoseAlg> coseAlgFrom(std::int64_t value);
std::string_view coseAlgName(CoseAlg alg);
// Every algorithm this verifier implements, in the order options offer them.
const std::vector<CoseAlg>& supportedAlgs();

// A credential public key (RFC 9052 §7, RFC 9053): its algorithm, bound to the key type and
// curve it names (an EC2 key claiming EdDSA, a P-384 key claiming ES256 or a 1024-bit RSA key is
// refused), and the OpenSSL key.
struct CoseKey {
  CoseAlg alg = CoseAlg::ES256;
  crypto::SharedPkey key;
};

// Whether a key is being registered or was stored before: a rule made stricter since registration
// (an RSA exponent in FIPS 186-5's range) must not lock out a passkey that met the older one.
enum class KeyAge { New, Stored };

// InvalidArgument naming what is wrong. RSA keys need 2048 to 8192 bits and, when New, an odd
// exponent above 2^16; every exponent is below 2^256.
[[nodiscard]] core::Result<CoseKey> coseKeyFrom(const cbor::Value& map, KeyAge age);
// The COSE_Key as stored (its CBOR bytes), decoded and checked as above.
[[nodiscard]] core::Result<CoseKey> coseKeyFromBytes(std::string_view cbor_bytes, KeyAge age);
// The most a stored COSE key may take (an RSA-8192 key with its parameters fits): one that
// registration took past it could never be read back at sign-in.
inline constexpr std::size_t kMaxCoseKeyBytes = 2048;

// The WebAuthn signature encodings (§6.5.6): ECDSA as ASN.1 DER (strict: the canonical
// encoding only, r and s in range), Ed25519 raw 64 bytes, RSASSA-PKCS1-v1_5 with SHA-256.
// The algorithm is the key's own, never the message's.
bool verifySignature(const CoseKey& key, std::string_view data, std::string_view signature);
// The same for an attestation certificate's key: `alg` must match the key's type and curve.
bool verifyWithPkey(const EVP_PKEY* key, CoseAlg alg, std::string_view data,
                    std::string_view signature);

}  // namespace gatehouse::webauthn
