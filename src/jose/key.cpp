#include "jose/key.hpp"

#include <openssl/bn.h>

#include "crypto/pkey.hpp"

namespace gatehouse::jose {
namespace {

using core::Errc;
using core::makeError;

core::Status checkRsa(const EVP_PKEY* pkey) {
  if (crypto::keyBits(pkey) < 2048) {
    return makeError(Errc::InvalidArgument, "RSA key shorter than 2048 bits");
  }
  auto c = crypto::rsaComponents(pkey, false);
  if (!c) return tl::unexpected(c.error());
  const std::string& e = c->e;
  const bool e_is_small = e.size() == 1 && static_cast<unsigned char>(e[0]) < 3;
  if (e.empty() || e_is_small || (static_cast<unsigned char>(e.back()) & 1U) == 0) {
    return makeError(Errc::InvalidArgument, "RSA public exponent must be odd and at least 3");
  }
  if (crypto::hasRocaFingerprint(c->n)) {
    return makeError(Errc::InvalidArgument,
                     "RSA modulus has the ROCA fingerprint (CVE-2017-15361)");
  }
  return {};
}

std::optional<crypto::Curve> curveFor(Algorithm alg) {
  switch (alg) {
    case Algorithm::Es256:
      return crypto::Curve::P256;
    case Algorithm::Es384:
      return crypto::Curve::P384;
    case Algorithm::Es512:
      return crypto::Curve::P521;
    default:
      return std::nullopt;
  }
}

}  // namespace

core::Result<Key> Key::hmac(Algorithm alg, std::string secret, std::string kid) {
  if (!isHmac(alg))
    return makeError(Errc::InvalidArgument, "HMAC secret offered for a non-HMAC algorithm");
  const crypto::Digest digest = algorithmDigest(alg);
  if (secret.size() < crypto::digestSize(digest)) {
    return makeError(Errc::InvalidArgument,
                     std::string("HMAC key for ") + std::string(algorithmName(alg)) +
                         " must be at least " + std::to_string(crypto::digestSize(digest)) +
                         " bytes");
  }
  auto key = crypto::HmacKey::create(digest, std::move(secret));
  if (!key) return tl::unexpected(key.error());
  return Key(alg, std::move(*key), nullptr, std::move(kid), true);
}

core::Result<Key> Key::asymmetric(Algorithm alg, crypto::SharedPkey pkey, std::string kid) {
  if (!pkey) return makeError(Errc::InvalidArgument, "no key");
  if (isHmac(alg))
    return makeError(Errc::InvalidArgument, "asymmetric key offered for an HMAC algorithm");
  const auto type = crypto::keyType(pkey.get());
  if (!type) return makeError(Errc::InvalidArgument, "unsupported key type");
  switch (algorithmScheme(alg)) {
    case crypto::SigScheme::RsaPkcs1:
    case crypto::SigScheme::RsaPss: {
      if (*type != crypto::KeyType::Rsa)
        return makeError(Errc::InvalidArgument, "algorithm needs an RSA key");
      if (auto ok = checkRsa(pkey.get()); !ok) return tl::unexpected(ok.error());
      break;
    }
    case crypto::SigScheme::Ecdsa:
      if (*type != crypto::KeyType::Ec || crypto::ecCurve(pkey.get()) != curveFor(alg)) {
        return makeError(Errc::InvalidArgument, "algorithm needs an EC key on its own curve");
      }
      break;
    case crypto::SigScheme::Ed25519:
      if (*type != crypto::KeyType::Ed25519)
        return makeError(Errc::InvalidArgument, "EdDSA needs an Ed25519 key");
      break;
  }
  const bool can_sign = crypto::hasPrivate(pkey.get());
  return Key(alg, std::nullopt, std::move(pkey), std::move(kid), can_sign);
}

bool Key::canSign() const { return can_sign_; }

std::string_view Key::secret() const { return hmac_ ? hmac_->secret() : std::string_view{}; }

Key Key::withKid(std::string kid) const {
  Key copy = *this;
  copy.kid_ = std::move(kid);
  return copy;
}

core::Result<std::string> Key::signBytes(std::string_view data) const {
  if (hmac_) return hmac_->sign(data);
  if (!can_sign_) return makeError(Errc::FailedPrecondition, "public key cannot sign");
  return crypto::sign(pkey_.get(), algorithmScheme(alg_), algorithmDigest(alg_), data);
}

bool Key::verifyBytes(std::string_view data, std::string_view signature) const {
  if (hmac_) return hmac_->verify(data, signature);
  return crypto::verify(pkey_.get(), algorithmScheme(alg_), algorithmDigest(alg_), data, signature);
}

}  // namespace gatehouse::jose
