// RFC 7520 examples (../shared/vectors/jose-cookbook).
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "core/base64url.hpp"
#include "jose/jwk.hpp"
#include "jose/jws.hpp"
#include "support/vectors.hpp"

namespace gatehouse::jose {
namespace {

namespace json = boost::json;

json::value cookbook(const char* path) {
  return testing::readJson(testing::vectorsDir() / "jose-cookbook" / path);
}

Key keyOf(const json::value& example) {
  const auto& input = example.at("input");
  auto alg = algorithmFromName(input.at("alg").as_string());
  EXPECT_TRUE(alg);
  auto key = keyFromJwk(input.at("key").as_object(), alg);
  EXPECT_TRUE(key) << key.error().message;
  return *key;
}

// Deterministic examples: our signature is byte-identical and the compact form verifies.
void checkReproducible(const char* path) {
  const auto ex = cookbook(path);
  const Key key = keyOf(ex);
  const std::string compact(ex.at("output").at("compact").as_string());
  auto keys = KeySet::create({key}).value();
  auto verified = verifyJws(compact, keys);
  ASSERT_TRUE(verified) << path << ": " << jwtErrorName(verified.error());
  EXPECT_EQ(verified->payload, ex.at("input").at("payload").as_string());
  const std::string signing_input(ex.at("signing").at("sig-input").as_string());
  auto sig = key.signBytes(signing_input);
  ASSERT_TRUE(sig);
  EXPECT_EQ(compact, signing_input + "." + std::string(ex.at("signing").at("sig").as_string()));
  EXPECT_EQ(core::base64urlEncode(*sig), ex.at("signing").at("sig").as_string()) << path;
}

TEST(Cookbook, RsaV15IsReproducible) { checkReproducible("jws/4_1.rsa_v15_signature.json"); }
TEST(Cookbook, HmacIsReproducible) {
  checkReproducible("jws/4_4.hmac-sha2_integrity_protection.json");
}
TEST(Cookbook, Ed25519IsReproducible) { checkReproducible("curve25519/jws.json"); }

// Randomised examples verify.
void checkVerifies(const char* path) {
  const auto ex = cookbook(path);
  auto keys = KeySet::create({keyOf(ex)}).value();
  auto verified = verifyJws(ex.at("output").at("compact").as_string(), keys);
  ASSERT_TRUE(verified) << path << ": " << jwtErrorName(verified.error());
  EXPECT_EQ(verified->payload, ex.at("input").at("payload").as_string());
}

TEST(Cookbook, RsaPssVerifies) { checkVerifies("jws/4_2.rsa-pss_signature.json"); }
TEST(Cookbook, EcdsaP521Verifies) { checkVerifies("jws/4_3.ecdsa_signature.json"); }

TEST(Cookbook, DetachedContentIsNotAToken) {
  // RFC 7520 §4.5: the compact form has an empty payload; as a JWT that is not a claims object.
  const auto ex = cookbook("jws/4_5.signature_with_detached_content.json");
  auto keys = KeySet::create({keyOf(ex)}).value();
  // The signature covers the detached payload, so the compact form alone cannot verify.
  const std::string compact(ex.at("output").at("compact").as_string());
  EXPECT_NE(compact.find(".."), std::string::npos);
  EXPECT_EQ(verifyJws(compact, keys).error(), JwtError::BadSignature);
}

TEST(Cookbook, JsonSerializationsAreRefused) {
  for (const char* path :
       {"jws/4_6.protecting_specific_header_fields.json", "jws/4_7.protecting_content_only.json",
        "jws/4_8.multiple_signatures.json"}) {
    const auto ex = cookbook(path);
    const auto& out = ex.at("output").as_object();
    EXPECT_FALSE(out.contains("compact")) << path;
    const auto key = keyFromJwk(cookbook("jwk/3_5.symmetric_key_mac_computation.json").as_object(),
                                Algorithm::Hs256);
    ASSERT_TRUE(key);
    auto keys = KeySet::create({*key}).value();
    EXPECT_FALSE(verifyJws(json::serialize(out.at("json")), keys)) << path;
    if (out.contains("json_flat")) {
      EXPECT_FALSE(verifyJws(json::serialize(out.at("json_flat")), keys)) << path;
    }
  }
}

TEST(Cookbook, KeysImportWithTheirOwnAlgorithms) {
  EXPECT_TRUE(keyFromJwk(cookbook("jwk/3_1.ec_public_key.json").as_object(), Algorithm::Es512));
  EXPECT_TRUE(keyFromJwk(cookbook("jwk/3_2.ec_private_key.json").as_object(), Algorithm::Es512));
  EXPECT_FALSE(keyFromJwk(cookbook("jwk/3_1.ec_public_key.json").as_object(), Algorithm::Es256));
  EXPECT_TRUE(keyFromJwk(cookbook("jwk/3_3.rsa_public_key.json").as_object(), Algorithm::Rs256));
  EXPECT_TRUE(keyFromJwk(cookbook("jwk/3_4.rsa_private_key.json").as_object(), Algorithm::Ps256));
  // §3.6 is an AES key for encryption: "use": "enc".
  EXPECT_FALSE(
      keyFromJwk(cookbook("jwk/3_6.symmetric_key_encryption.json").as_object(), Algorithm::Hs256));
}

}  // namespace
}  // namespace gatehouse::jose
