#include "crypto/pkey.hpp"

#include <gtest/gtest.h>

#include "core/base64url.hpp"
#include "support/vectors.hpp"

namespace gatehouse::crypto {
namespace {

TEST(Pkey, RsaComponentsRoundTrip) {
  SharedPkey key = generateRsa(2048).value();
  auto c = rsaComponents(key.get(), true);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->d.empty());
  auto rebuilt = rsaFromComponents(*c);
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  EXPECT_TRUE(hasPrivate(rebuilt->get()));
  EXPECT_EQ(rsaComponents(rebuilt->get(), false)->n, c->n);
}

TEST(Pkey, EcRejectsPointOffCurveAndWrongLength) {
  SharedPkey key = generateEc(Curve::P256).value();
  auto c = ecComponents(key.get(), false).value();
  EXPECT_TRUE(ecFromComponents(c));
  auto off = c;
  off.y.back() ^= 1;
  EXPECT_FALSE(ecFromComponents(off));
  auto wrong_curve = c;
  wrong_curve.curve = Curve::P384;
  EXPECT_FALSE(ecFromComponents(wrong_curve));
}

TEST(Pkey, EcPrivateMustMatchPublic) {
  auto a = ecComponents(generateEc(Curve::P256).value().get(), true).value();
  auto b = ecComponents(generateEc(Curve::P256).value().get(), true).value();
  a.d = b.d;
  EXPECT_FALSE(ecFromComponents(a));
}

TEST(Pkey, PemRoundTrip) {
  SharedPkey key = generateEd25519().value();
  auto pem = privateKeyToPem(key.get());
  ASSERT_TRUE(pem);
  EXPECT_NE(pem->find("BEGIN PRIVATE KEY"), std::string::npos);
  auto back = privateKeyFromPem(*pem);
  ASSERT_TRUE(back);
  EXPECT_EQ(ed25519Components(back->get(), true)->d, ed25519Components(key.get(), true)->d);
  auto pub = publicKeyFromPem(publicKeyToPem(key.get()).value());
  ASSERT_TRUE(pub);
  EXPECT_FALSE(hasPrivate(pub->get()));
  EXPECT_FALSE(privateKeyFromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
}

TEST(Pkey, DetectsRocaFingerprint) {
  const auto doc =
      testing::readJson(testing::vectorsDir() / "wycheproof" / "json_web_key_test.json");
  std::string roca_n;
  for (const auto& g : doc.at("testGroups").as_array()) {
    if (g.at("comment").as_string() == "jws_rsa_roca_key") {
      roca_n = *core::base64urlDecode(g.at("private").at("keys").at(0).at("n").as_string());
    }
  }
  ASSERT_FALSE(roca_n.empty());
  EXPECT_TRUE(hasRocaFingerprint(roca_n));
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(hasRocaFingerprint(rsaComponents(generateRsa(2048).value().get(), false)->n));
  }
}

}  // namespace
}  // namespace gatehouse::crypto
