#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "crypto/openssl.hpp"

namespace gatehouse::crypto {

enum class KeyType { Rsa, Ec, Ed25519 };
enum class Curve { P256, P384, P521 };

// Big-endian unsigned integers, as JWK carries them (RFC 7518 §6.3). Private members optional.
struct RsaComponents {
  std::string n, e;
  std::string d, p, q, dp, dq, qi;
};
// Field-size coordinates and scalar (RFC 7518 §6.2).
struct EcComponents {
  Curve curve = Curve::P256;
  std::string x, y;
  std::string d;
};
// Raw 32-byte keys (RFC 8037 §2).
struct OkpComponents {
  std::string x;
  std::string d;
};

std::size_t curveFieldBytes(Curve c);
std::string_view curveJwkName(Curve c);
std::optional<Curve> curveFromJwkName(std::string_view name);

// Builders validate what OpenSSL can check: point on the curve, key sizes, private/public match.
// Each returns InvalidArgument naming the problem.
[[nodiscard]] core::Result<SharedPkey> rsaFromComponents(const RsaComponents& c);
[[nodiscard]] core::Result<SharedPkey> ecFromComponents(const EcComponents& c);
[[nodiscard]] core::Result<SharedPkey> ed25519FromComponents(const OkpComponents& c);

// The key's type; nullopt for types Gatehouse does not sign with.
std::optional<KeyType> keyType(const EVP_PKEY* key);
std::optional<Curve> ecCurve(const EVP_PKEY* key);
bool hasPrivate(const EVP_PKEY* key);
int keyBits(const EVP_PKEY* key);

// Component export; `include_private` adds private members when the key has them.
[[nodiscard]] core::Result<RsaComponents> rsaComponents(const EVP_PKEY* key, bool include_private);
[[nodiscard]] core::Result<EcComponents> ecComponents(const EVP_PKEY* key, bool include_private);
[[nodiscard]] core::Result<OkpComponents> ed25519Components(const EVP_PKEY* key,
                                                            bool include_private);

// Key generation: RSA with `bits` (≥ 2048), EC on `curve`, Ed25519.
[[nodiscard]] core::Result<SharedPkey> generateRsa(int bits);
[[nodiscard]] core::Result<SharedPkey> generateEc(Curve curve);
[[nodiscard]] core::Result<SharedPkey> generateEd25519();

// PKCS#8 / SubjectPublicKeyInfo PEM.
[[nodiscard]] core::Result<std::string> privateKeyToPem(const EVP_PKEY* key);
[[nodiscard]] core::Result<std::string> publicKeyToPem(const EVP_PKEY* key);
[[nodiscard]] core::Result<SharedPkey> privateKeyFromPem(std::string_view pem);
// The form Gatehouse stores RSA keys in (an unencrypted PKCS#8 block of a two-prime key), read
// with OpenSSL's ASN.1 parser and key import rather than its decoder framework, whose first use
// in a process builds every decoder chain (about 0.7 ms of each start). Null for any other form
// or a block that does not parse: privateKeyFromPem then asks the decoders. Like them, it does
// not check the key's arithmetic (that is a primality test, tens of milliseconds).
[[nodiscard]] SharedPkey plainRsaPrivateKeyFromPem(std::string_view pem);
[[nodiscard]] core::Result<SharedPkey> publicKeyFromPem(std::string_view pem);

// The ROCA fingerprint (CVE-2017-15361): true when the modulus `n` (big-endian) has the structure
// of an Infineon-generated weak key, which is factorable.
bool hasRocaFingerprint(std::string_view n);

}  // namespace gatehouse::crypto
