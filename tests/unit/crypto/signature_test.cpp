#include "crypto/signature.hpp"

#include <gtest/gtest.h>

#include "crypto/pkey.hpp"

namespace gatehouse::crypto {
namespace {

struct Case {
  const char* name;
  SigScheme scheme;
  Digest digest;
};

SharedPkey keyFor(SigScheme scheme) {
  switch (scheme) {
    case SigScheme::RsaPkcs1:
    case SigScheme::RsaPss:
      return generateRsa(2048).value();
    case SigScheme::Ecdsa:
      return generateEc(Curve::P256).value();
    case SigScheme::Ed25519:
      return generateEd25519().value();
  }
  return nullptr;
}

TEST(Signature, SignsAndVerifiesEachScheme) {
  for (const Case c : {Case{"pkcs1", SigScheme::RsaPkcs1, Digest::Sha256},
                       Case{"pss", SigScheme::RsaPss, Digest::Sha384},
                       Case{"ecdsa", SigScheme::Ecdsa, Digest::Sha256},
                       Case{"ed25519", SigScheme::Ed25519, Digest::Sha256}}) {
    SharedPkey key = keyFor(c.scheme);
    auto sig = sign(key.get(), c.scheme, c.digest, "payload");
    ASSERT_TRUE(sig) << c.name;
    EXPECT_TRUE(verify(key.get(), c.scheme, c.digest, "payload", *sig)) << c.name;
    EXPECT_FALSE(verify(key.get(), c.scheme, c.digest, "payloaD", *sig)) << c.name;
    std::string flipped = *sig;
    flipped[flipped.size() / 2] ^= 1;
    EXPECT_FALSE(verify(key.get(), c.scheme, c.digest, "payload", flipped)) << c.name;
  }
}

TEST(Signature, EcdsaUsesFixedLengthP1363) {
  SharedPkey key = generateEc(Curve::P384).value();
  auto sig = sign(key.get(), SigScheme::Ecdsa, Digest::Sha384, "m");
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->size(), 96U);
  EXPECT_FALSE(verify(key.get(), SigScheme::Ecdsa, Digest::Sha384, "m", sig->substr(1)));
  EXPECT_FALSE(verify(key.get(), SigScheme::Ecdsa, Digest::Sha384, "m", std::string(96, '\0')));
}

TEST(Signature, RejectsPsychicSignature) {
  // CVE-2022-21449: r = s = 0 must never verify.
  SharedPkey key = generateEc(Curve::P256).value();
  EXPECT_FALSE(
      verify(key.get(), SigScheme::Ecdsa, Digest::Sha256, "anything", std::string(64, '\0')));
}

TEST(Signature, PublicOnlyKeyCannotSign) {
  SharedPkey key = generateEd25519().value();
  auto pub = ed25519FromComponents({ed25519Components(key.get(), false).value().x, ""}).value();
  EXPECT_FALSE(sign(pub.get(), SigScheme::Ed25519, Digest::Sha256, "m"));
  auto sig = sign(key.get(), SigScheme::Ed25519, Digest::Sha256, "m").value();
  EXPECT_TRUE(verify(pub.get(), SigScheme::Ed25519, Digest::Sha256, "m", sig));
}

}  // namespace
}  // namespace gatehouse::crypto
