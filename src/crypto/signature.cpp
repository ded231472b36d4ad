#include "crypto/signature.hpp"

#include <optional>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "core/base64url.hpp"
#include "crypto/pkey.hpp"

namespace gatehouse::crypto {
namespace {

struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// The group order n of each curve (SEC 2 §2.4.2, §2.5.1, §2.6.1), big-endian at field width, so
// that r and s compare as fixed-length byte strings without building BIGNUMs per call.
constexpr std::string_view kOrderP256 =
    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
constexpr std::string_view kOrderP384 =
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC529"
    "73";
constexpr std::string_view kOrderP521 =
    "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F"
    "709A5D03BB5C9B8899C47AEBB6FB71E91386409";
static_assert(kOrderP256.size() == 64 && kOrderP384.size() == 96 && kOrderP521.size() == 132);

const std::string& curveOrder(Curve c) {
  static const std::string kP256 = core::hexDecode(kOrderP256).value();
  static const std::string kP384 = core::hexDecode(kOrderP384).value();
  static const std::string kP521 = core::hexDecode(kOrderP521).value();
  switch (c) {
    case Curve::P256:
      return kP256;
    case Curve::P384:
      return kP384;
    case Curve::P521:
      break;
  }
  return kP521;
}

// 0 < v < n for big-endian strings of equal length.
bool inScalarRange(std::string_view v, std::string_view order) {
  const bool zero = v.find_first_not_of('\0') == std::string_view::npos;
  return !zero && v < order;
}

bool configure(EVP_PKEY_CTX* pctx, SigScheme scheme) {
  if (scheme == SigScheme::RsaPkcs1)
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  if (scheme == SigScheme::RsaPss) {
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  }
  return true;
}

const EVP_MD* mdFor(SigScheme scheme, Digest digest) {
  return scheme == SigScheme::Ed25519 ? nullptr : evpMd(digest);
}

// IEEE P1363 r||s → DER, refusing wrong lengths and out-of-range scalars.
std::optional<std::string> p1363ToDer(const EVP_PKEY* key, std::string_view sig) {
  const auto curve = ecCurve(key);
  if (!curve) return std::nullopt;
  const std::size_t field = curveFieldBytes(*curve);
  if (sig.size() != 2 * field) return std::nullopt;
  // CVE-2022-21449: r and s must lie in [1, n-1] before OpenSSL ever sees them.
  const std::string& order = curveOrder(*curve);
  if (!inScalarRange(sig.substr(0, field), order) || !inScalarRange(sig.substr(field), order)) {
    return std::nullopt;
  }
  BnPtr r(BN_bin2bn(bytes(sig), static_cast<int>(field), nullptr));
  BnPtr s(BN_bin2bn(bytes(sig.substr(field)), static_cast<int>(field), nullptr));
  if (!r || !s) return std::nullopt;
  EcdsaSigPtr ecsig(ECDSA_SIG_new());
  if (!ecsig || ECDSA_SIG_set0(ecsig.get(), r.get(), s.get()) != 1) return std::nullopt;
  (void)r.release();
  (void)s.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(ecsig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

core::Result<std::string> derToP1363(const EVP_PKEY* key, std::string_view der) {
  const auto curve = ecCurve(key);
  if (!curve) return core::makeError(core::Errc::Internal, "ECDSA key without a known curve");
  const auto field = static_cast<int>(curveFieldBytes(*curve));
  const unsigned char* p = bytes(der);
  EcdsaSigPtr ecsig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!ecsig) return core::makeError(core::Errc::Internal, "bad DER from ECDSA sign");
  std::string out(static_cast<std::size_t>(2 * field), '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(ecsig.get()), o, field) != field ||
      BN_bn2binpad(ECDSA_SIG_get0_s(ecsig.get()), o + field, field) != field) {
    return core::makeError(core::Errc::Internal, "ECDSA scalar too large");
  }
  return out;
}

}  // namespace

core::Result<std::string> sign(const EVP_PKEY* key, SigScheme scheme, Digest digest,
                               std::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), &pctx, mdFor(scheme, digest), nullptr,
                         const_cast<EVP_PKEY*>(key)) != 1 ||
      !configure(pctx, scheme)) {
    return core::makeError(core::Errc::Internal, "sign init failed: " + lastOpensslError());
  }
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, bytes(data), data.size()) != 1) {
    return core::makeError(core::Errc::Internal, "sign failed: " + lastOpensslError());
  }
  std::string out(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, bytes(data),
                     data.size()) != 1) {
    return core::makeError(core::Errc::Internal, "sign failed: " + lastOpensslError());
  }
  out.resize(len);
  if (scheme == SigScheme::Ecdsa) return derToP1363(key, out);
  return out;
}

bool verify(const EVP_PKEY* key, SigScheme scheme, Digest digest, std::string_view data,
            std::string_view signature) {
  std::string der;
  std::string_view sig = signature;
  switch (scheme) {
    case SigScheme::RsaPkcs1:
    case SigScheme::RsaPss:
      if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key))) return false;
      break;
    case SigScheme::Ecdsa: {
      auto converted = p1363ToDer(key, signature);
      if (!converted) return false;
      der = std::move(*converted);
      sig = der;
      break;
    }
    case SigScheme::Ed25519:
      if (signature.size() != 64) return false;
      break;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx ||
      EVP_DigestVerifyInit(ctx.get(), &pctx, mdFor(scheme, digest), nullptr,
                           const_cast<EVP_PKEY*>(key)) != 1 ||
      !configure(pctx, scheme)) {
    ERR_clear_error();
    return false;
  }
  const int rc = EVP_DigestVerify(ctx.get(), bytes(sig), sig.size(), bytes(data), data.size());
  if (rc != 1) ERR_clear_error();
  return rc == 1;
}

}  // namespace gatehouse::crypto
