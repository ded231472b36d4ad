#include "jose/jwk.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "crypto/pkey.hpp"

namespace gatehouse::jose {
namespace {

namespace json = boost::json;

TEST(Thumbprint, MatchesRfc7638Example) {
  // RFC 7638 §3.1.
  const auto jwk = json::parse(R"({"kty":"RSA","e":"AQAB","alg":"RS256",
    "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"})")
                       .as_object();
  auto key = keyFromJwk(jwk);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->kid(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  EXPECT_EQ(thumbprint(*key).value(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(Jwk, RoundTripsEveryKeyType) {
  std::vector<Key> keys;
  keys.push_back(Key::asymmetric(Algorithm::Ps256, crypto::generateRsa(2048).value()).value());
  keys.push_back(
      Key::asymmetric(Algorithm::Es384, crypto::generateEc(crypto::Curve::P384).value()).value());
  keys.push_back(Key::asymmetric(Algorithm::EdDsa, crypto::generateEd25519().value()).value());
  for (const auto& key : keys) {
    auto priv = privateJwk(key);
    ASSERT_TRUE(priv);
    EXPECT_TRUE(priv->contains("d"));
    auto back = keyFromJwk(*priv);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_TRUE(back->canSign());
    EXPECT_EQ(back->algorithm(), key.algorithm());
    auto pub = publicJwk(key);
    ASSERT_TRUE(pub);
    EXPECT_FALSE(pub->contains("d"));
    EXPECT_EQ(pub->at("use").as_string(), "sig");
    auto verifier = keyFromJwk(*pub);
    ASSERT_TRUE(verifier);
    EXPECT_FALSE(verifier->canSign());
    const std::string sig = back->signBytes("data").value();
    EXPECT_TRUE(verifier->verifyBytes("data", sig));
    EXPECT_EQ(thumbprint(*verifier).value(), thumbprint(key).value());
  }
}

TEST(Jwk, HmacKeysAreNeverPublished) {
  const Key hs = Key::hmac(Algorithm::Hs256, std::string(32, 'x'), "h").value();
  EXPECT_FALSE(publicJwk(hs));
  auto set = KeySet::create({hs}).value();
  EXPECT_TRUE(set.toPublicJwks()->at("keys").as_array().empty());
}

TEST(Jwk, RequiresAnAlgorithmAndAgreement) {
  const auto jwk =
      json::parse(R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})").as_object();
  EXPECT_FALSE(keyFromJwk(jwk));
  EXPECT_TRUE(keyFromJwk(jwk, Algorithm::Hs256));
  auto with_alg = jwk;
  with_alg["alg"] = "HS256";
  EXPECT_FALSE(keyFromJwk(with_alg, Algorithm::Hs384));
  with_alg["alg"] = "none";
  EXPECT_FALSE(keyFromJwk(with_alg));
}

TEST(Jwk, RefusesEncryptionKeys) {
  auto jwk = json::parse(
                 R"({"kty":"oct","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})")
                 .as_object();
  EXPECT_TRUE(keyFromJwk(jwk));
  jwk["use"] = "enc";
  EXPECT_FALSE(keyFromJwk(jwk));
  jwk.erase("use");
  jwk["key_ops"] = json::array{"encrypt"};
  EXPECT_FALSE(keyFromJwk(jwk));
  jwk["key_ops"] = json::array{"sign", "verify"};
  EXPECT_TRUE(keyFromJwk(jwk));
}

TEST(KeySet, RefusesDuplicateKidsAndMixedSymmetry) {
  const Key a = Key::hmac(Algorithm::Hs256, std::string(32, 'a'), "same").value();
  const Key b = Key::hmac(Algorithm::Hs256, std::string(32, 'b'), "same").value();
  EXPECT_FALSE(KeySet::create({a, b}));
  const Key ed = Key::asymmetric(Algorithm::EdDsa, crypto::generateEd25519().value(), "ed").value();
  EXPECT_FALSE(KeySet::create({a, ed}));
  EXPECT_TRUE(KeySet::create({a, b.withKid("other")}));
}

TEST(KeySet, SkipsUnusableKeysOnlyWhenAsked) {
  const auto jwks = json::parse(R"({"keys":[
    {"kty":"oct","alg":"HS256","kid":"ok","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    {"kty":"oct","alg":"A256GCM","kid":"enc","use":"enc","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]})");
  EXPECT_FALSE(KeySet::fromJwks(jwks));
  auto lenient = KeySet::fromJwks(jwks, KeySet::Mode::SkipUnusable);
  ASSERT_TRUE(lenient);
  EXPECT_EQ(lenient->keys().size(), 1U);
  EXPECT_FALSE(KeySet::fromJwks(json::parse(R"({"nokeys":[]})")));
}

}  // namespace
}  // namespace gatehouse::jose
