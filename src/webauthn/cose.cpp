#include "webauthn/cose.hpp"

#include <algorithm>
#include <array>
#include <string>

#include <openssl/ecdsa.h>

#include "core/base64url.hpp"
#include "crypto/pkey.hpp"
#include "crypto/signature.hpp"

namespace gatehouse::webauthn {
namespace {

// COSE key parameters (RFC 9052 §7.1, RFC 9053 §7).
constexpr std::int64_t kKty = 1;
constexpr std::int64_t kAlg = 3;
constexpr std::int64_t kCrv = -1;   // EC2, OKP
constexpr std::int64_t kX = -2;     // EC2, OKP
constexpr std::int64_t kY = -3;     // EC2
constexpr std::int64_t kRsaN = -1;  // RFC 8230 §4
constexpr std::int64_t kRsaE = -2;
constexpr std::int64_t kKtyOkp = 1;
constexpr std::int64_t kKtyEc2 = 2;
constexpr std::int64_t kKtyRsa = 3;
constexpr std::int64_t kCrvP256 = 1;
constexpr std::int64_t kCrvP384 = 2;
constexpr std::int64_t kCrvP521 = 3;
constexpr std::int64_t kCrvEd25519 = 6;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;  // its COSE key stays within the stored key's decoding limit

core::Error invalid(std::string why) {
  return core::Error{core::Errc::InvalidArgument, "COSE key: " + std::move(why)};
}

const std::string* bytesAt(const cbor::Value& map, std::int64_t key) {
  const cbor::Value* v = map.at(key);
  return v != nullptr ? v->bytes() : nullptr;
}

std::optional<crypto::Curve> curveFor(CoseAlg alg) {
  switch (alg) {
    case CoseAlg::ES256:
      return crypto::Curve::P256;
    case CoseAlg::ES384:
      return crypto::Curve::P384;
    case CoseAlg::ES512:
      return crypto::Curve::P521;
    default:
      return std::nullopt;
  }
}

crypto::Digest digestFor(CoseAlg alg) {
  switch (alg) {
    case CoseAlg::ES384:
      return crypto::Digest::Sha384;
    case CoseAlg::ES512:
      return crypto::Digest::Sha512;
    default:
      return crypto::Digest::Sha256;
  }
}

// Strict DER ECDSA-Sig-Value → r||s at field width, or nullopt. A signature whose DER is not the
// canonical re-encoding (extra bytes, long-form lengths, padded integers) is refused.
std::optional<std::string> derToP1363(std::string_view der, std::size_t field) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* raw = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) return std::nullopt;
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(raw, ECDSA_SIG_free);
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) return std::nullopt;
  unsigned char* again = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &again);
  const bool canonical = len > 0 && static_cast<std::size_t>(len) == der.size() &&
                         std::string_view(reinterpret_cast<const char*>(again), len) == der;
  OPENSSL_free(again);
  if (!canonical) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(2 * field, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, o, static_cast<int>(field)) < 0 ||
      BN_bn2binpad(s, o + field, static_cast<int>(field)) < 0)
    return std::nullopt;  // wider than the field: out of range
  return out;
}

// An Ed25519 public key of small order (its "signatures" verify without any private key) or a
// non-canonical encoding (y >= p): the eight small-order points with either sign bit, and p..p+18.
bool weakEd25519(std::string_view x) {
  std::string y(x);
  y.back() = static_cast<char>(y.back() & 0x7F);  // the sign of x aside
  static const std::array<std::string, 4> kSmallOrder{
      std::string(32, '\0'),                        // order 4
      std::string("\x01") + std::string(31, '\0'),  // order 1
      core::hexDecode("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
          .value(),  // order 8
      core::hexDecode("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
          .value(),  // order 8
  };
  if (std::find(kSmallOrder.begin(), kSmallOrder.end(), y) != kSmallOrder.end()) return true;
  // y = p - 1 (order 2) and y >= p: the low byte at least 0xec, every other 0xff, the top 0x7f.
  const bool top = static_cast<unsigned char>(y[31]) == 0x7F &&
                   std::all_of(y.begin() + 1, y.begin() + 31,
                               [](char c) { return static_cast<unsigned char>(c) == 0xFF; });
  return top && static_cast<unsigned char>(y[0]) >= 0xEC;
}

}  // namespace

std::optional<CoseAlg> coseAlgFrom(std::int64_t value) {
  for (const CoseAlg a : supportedAlgs()) {
    if (static_cast<std::int64_t>(a) == value) return a;
  }
  return std::nullopt;
}

std::string_view coseAlgName(CoseAlg alg) {
  switch (alg) {
    case CoseAlg::ES256:
      return "ES256";
    case CoseAlg::EdDSA:
      return "EdDSA";
    case CoseAlg::ES384:
      return "ES384";
    case CoseAlg::ES512:
      return "ES512";
    case CoseAlg::RS256:
      return "RS256";
  }
  return "?";
}

const std::vector<CoseAlg>& supportedAlgs() {
  static const std::vector<CoseAlg> kAll{CoseAlg::ES256, CoseAlg::EdDSA, CoseAlg::RS256,
                                         CoseAlg::ES384, CoseAlg::ES512};
  return kAll;
}

namespace {

// FIPS 186-5 §A.1.1's public exponent for a new key: odd, 2^16 < e < 2^256 (big-endian, leading
// zero bytes ignored); a stored one odd, at least 3 and below 2^256. Found by an outside attack: a
// 2400-bit exponent, larger than the modulus, registered, and each check with a ~3000-bit one cost
// five times a usual key's.
bool acceptableExponent(std::string_view e, KeyAge age) {
  const auto first = e.find_first_not_of('\0');
  if (first == std::string_view::npos) return false;
  e.remove_prefix(first);
  const bool odd = (static_cast<unsigned char>(e.back()) & 1U) != 0;
  if (e.size() > 32 || !odd) return false;
  // e = 1 makes every "signature" verify.
  if (age == KeyAge::Stored) return e.size() > 1 || static_cast<unsigned char>(e[0]) >= 3;
  // Three bytes with a non-zero first one and odd: at least 0x010001.
  return e.size() >= 3;
}

}  // namespace

core::Result<CoseKey> coseKeyFrom(const cbor::Value& map, KeyAge age) {
  if (map.map() == nullptr) return tl::unexpected(invalid("not a map"));
  const cbor::Value* kty = map.at(kKty);
  const cbor::Value* alg_v = map.at(kAlg);
  if (kty == nullptr || kty->integer() == nullptr) return tl::unexpected(invalid("no kty"));
  if (alg_v == nullptr || alg_v->integer() == nullptr) return tl::unexpected(invalid("no alg"));
  const auto alg = coseAlgFrom(*alg_v->integer());
  if (!alg) return tl::unexpected(invalid("unsupported alg " + std::to_string(*alg_v->integer())));
  const cbor::Value* crv = map.at(kCrv);
  const std::int64_t* crv_i = crv != nullptr ? crv->integer() : nullptr;

  if (const auto curve = curveFor(*alg)) {
    const std::int64_t want = *curve == crypto::Curve::P256   ? kCrvP256
                              : *curve == crypto::Curve::P384 ? kCrvP384
                                                              : kCrvP521;
    if (*kty->integer() != kKtyEc2 || crv_i == nullptr || *crv_i != want)
      return tl::unexpected(invalid("alg does not match the key type or curve"));
    const std::string* x = bytesAt(map, kX);
    const std::string* y = bytesAt(map, kY);
    if (x == nullptr || y == nullptr) return tl::unexpected(invalid("EC2 key without x or y"));
    auto key = crypto::ecFromComponents({*curve, *x, *y, {}});
    if (!key) return tl::unexpected(invalid(key.error().message));
    return CoseKey{*alg, std::move(*key)};
  }
  if (*alg == CoseAlg::EdDSA) {
    if (*kty->integer() != kKtyOkp || crv_i == nullptr || *crv_i != kCrvEd25519)
      return tl::unexpected(invalid("EdDSA needs an OKP Ed25519 key"));
    const std::string* x = bytesAt(map, kX);
    if (x == nullptr) return tl::unexpected(invalid("OKP key without x"));
    if (x->size() == 32 && weakEd25519(*x))
      return tl::unexpected(invalid("Ed25519 key of small order or non-canonical"));
    auto key = crypto::ed25519FromComponents({*x, {}});
    if (!key) return tl::unexpected(invalid(key.error().message));
    return CoseKey{*alg, std::move(*key)};
  }
  // RS256
  if (*kty->integer() != kKtyRsa) return tl::unexpected(invalid("RS256 needs an RSA key"));
  const std::string* n = bytesAt(map, kRsaN);
  const std::string* e = bytesAt(map, kRsaE);
  if (n == nullptr || e == nullptr) return tl::unexpected(invalid("RSA key without n or e"));
  if (!acceptableExponent(*e, age))
    return tl::unexpected(
        invalid("RSA exponent out of range (odd, above 2^16 for a new key, "
                "below 2^256)"));
  auto key = crypto::rsaFromComponents({*n, *e, {}, {}, {}, {}, {}, {}});
  if (!key) return tl::unexpected(invalid(key.error().message));
  if (crypto::keyBits(key->get()) < kMinRsaBits || crypto::keyBits(key->get()) > kMaxRsaBits)
    return tl::unexpected(invalid("RSA key outside 2048 to 8192 bits"));
  return CoseKey{*alg, std::move(*key)};
}

core::Result<CoseKey> coseKeyFromBytes(std::string_view cbor_bytes, KeyAge age) {
  auto value = cbor::decode(cbor_bytes, {.max_bytes = kMaxCoseKeyBytes, .max_depth = 2});
  if (!value) return tl::unexpected(value.error());
  return coseKeyFrom(*value, age);
}

bool verifyWithPkey(const EVP_PKEY* key, CoseAlg alg, std::string_view data,
                    std::string_view signature) {
  const auto type = crypto::keyType(key);
  if (!type) return false;
  if (const auto curve = curveFor(alg)) {
    if (*type != crypto::KeyType::Ec || crypto::ecCurve(key) != curve) return false;
    const auto p1363 = derToP1363(signature, crypto::curveFieldBytes(*curve));
    return p1363 && crypto::verify(key, crypto::SigScheme::Ecdsa, digestFor(alg), data, *p1363);
  }
  if (alg == CoseAlg::EdDSA) {
    return *type == crypto::KeyType::Ed25519 &&
           crypto::verify(key, crypto::SigScheme::Ed25519, crypto::Digest::Sha256, data, signature);
  }
  return *type == crypto::KeyType::Rsa && crypto::keyBits(key) >= kMinRsaBits &&
         crypto::verify(key, crypto::SigScheme::RsaPkcs1, crypto::Digest::Sha256, data, signature);
}

bool verifySignature(const CoseKey& key, std::string_view data, std::string_view signature) {
  return verifyWithPkey(key.key.get(), key.alg, data, signature);
}

}  // namespace gatehouse::webauthn
