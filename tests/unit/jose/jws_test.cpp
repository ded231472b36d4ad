#include "jose/jws.hpp"

#include <gtest/gtest.h>

#include "core/base64url.hpp"
#include "crypto/pkey.hpp"

namespace gatehouse::jose {
namespace {

using core::base64urlEncode;

Key hsKey() { return Key::hmac(Algorithm::Hs256, std::string(32, 's'), "k1").value(); }

// A token with an arbitrary header, correctly signed by `key`.
std::string forge(const Key& key, std::string_view header,
                  std::string_view payload = R"({"sub":"1"})") {
  std::string input = base64urlEncode(header) + "." + base64urlEncode(payload);
  return input + "." + base64urlEncode(key.signBytes(input).value());
}

JwtError errorOf(std::string_view token, const KeySet& keys) {
  auto r = verifyJws(token, keys);
  EXPECT_FALSE(r) << "accepted " << token;
  return r ? JwtError::Malformed : r.error();
}

TEST(JwsVerifier, AcceptsOwnSignatureForEveryAlgorithm) {
  std::vector<Key> keys;
  keys.push_back(Key::hmac(Algorithm::Hs256, std::string(32, 'a'), "a").value());
  keys.push_back(Key::hmac(Algorithm::Hs384, std::string(48, 'b'), "b").value());
  keys.push_back(Key::hmac(Algorithm::Hs512, std::string(64, 'c'), "c").value());
  auto rsa = crypto::generateRsa(2048).value();
  for (auto alg : {Algorithm::Rs256, Algorithm::Rs384, Algorithm::Rs512, Algorithm::Ps256,
                   Algorithm::Ps384, Algorithm::Ps512}) {
    keys.push_back(Key::asymmetric(alg, rsa, std::string(algorithmName(alg))).value());
  }
  keys.push_back(
      Key::asymmetric(Algorithm::Es256, crypto::generateEc(crypto::Curve::P256).value(), "e1")
          .value());
  keys.push_back(
      Key::asymmetric(Algorithm::Es384, crypto::generateEc(crypto::Curve::P384).value(), "e2")
          .value());
  keys.push_back(
      Key::asymmetric(Algorithm::Es512, crypto::generateEc(crypto::Curve::P521).value(), "e3")
          .value());
  keys.push_back(
      Key::asymmetric(Algorithm::EdDsa, crypto::generateEd25519().value(), "ed").value());
  for (const auto& key : keys) {
    auto token = signJws(key, R"({"sub":"42"})");
    ASSERT_TRUE(token) << algorithmName(key.algorithm());
    auto set = KeySet::create({key}).value();
    auto verified = verifyJws(*token, set);
    ASSERT_TRUE(verified) << algorithmName(key.algorithm()) << " "
                          << jwtErrorName(verified.error());
    EXPECT_EQ(verified->payload, R"({"sub":"42"})");
    EXPECT_EQ(verified->header.alg, algorithmName(key.algorithm()));
    EXPECT_EQ(verified->header.kid, key.kid());
    EXPECT_EQ(verified->header.typ, "JWT");
  }
}

TEST(JwsVerifier, RejectsAlgNoneInAnySpelling) {
  const auto keys = KeySet::create({hsKey()}).value();
  for (const char* alg : {"none", "None", "NONE", "nOnE"}) {
    const std::string header = std::string(R"({"alg":")") + alg + R"(","kid":"k1"})";
    const std::string token =
        base64urlEncode(header) + "." + base64urlEncode(R"({"sub":"1"})") + ".";
    EXPECT_EQ(errorOf(token, keys), JwtError::AlgNone) << alg;
  }
}

TEST(JwsVerifier, HeaderNeverChoosesTheAlgorithm) {
  // An RS256 public key used as an HMAC secret (the classic confusion) must fail: the key is
  // bound to RS256 and the header's HS256 does not match it.
  auto rsa = crypto::generateRsa(2048).value();
  const Key rs = Key::asymmetric(Algorithm::Rs256, rsa, "k1").value();
  const std::string pem = crypto::publicKeyToPem(rsa.get()).value();
  const Key confused = Key::hmac(Algorithm::Hs256, pem, "k1").value();
  const auto keys = KeySet::create({rs}).value();
  EXPECT_EQ(errorOf(forge(confused, R"({"alg":"HS256","kid":"k1"})"), keys),
            JwtError::AlgorithmMismatch);
  const Key hs512 = Key::hmac(Algorithm::Hs512, std::string(64, 's'), "k1").value();
  const auto hs_keys = KeySet::create({hsKey()}).value();
  EXPECT_EQ(errorOf(forge(hs512, R"({"alg":"HS512","kid":"k1"})"), hs_keys),
            JwtError::AlgorithmMismatch);
  EXPECT_EQ(errorOf(forge(hsKey(), R"({"alg":"HS999","kid":"k1"})"), hs_keys),
            JwtError::UnknownAlgorithm);
}

TEST(JwsVerifier, RejectsKeySourceHeaders) {
  const Key key = hsKey();
  const auto keys = KeySet::create({key}).value();
  for (const char* h : {R"({"alg":"HS256","kid":"k1","jku":"https://evil/jwks"})",
                        R"({"alg":"HS256","kid":"k1","x5u":"https://evil/cert"})",
                        R"({"alg":"HS256","kid":"k1","jwk":{"kty":"oct","k":"AAAA"}})",
                        R"({"alg":"HS256","kid":"k1","x5c":["MIIB"]})"}) {
    EXPECT_EQ(errorOf(forge(key, h), keys), JwtError::ForbiddenHeader) << h;
  }
}

TEST(JwsVerifier, RejectsCritAndB64) {
  const Key key = hsKey();
  const auto keys = KeySet::create({key}).value();
  EXPECT_EQ(errorOf(forge(key, R"({"alg":"HS256","kid":"k1","crit":["exp"],"exp":1})"), keys),
            JwtError::Unsupported);
  EXPECT_EQ(errorOf(forge(key, R"({"alg":"HS256","kid":"k1","crit":[]})"), keys),
            JwtError::Unsupported);
  EXPECT_EQ(errorOf(forge(key, R"({"alg":"HS256","kid":"k1","b64":false,"crit":["b64"]})"), keys),
            JwtError::Unsupported);
}

TEST(JwsVerifier, RejectsStructuralProblems) {
  const Key key = hsKey();
  const auto keys = KeySet::create({key}).value();
  const std::string good = forge(key, R"({"alg":"HS256","kid":"k1"})");
  ASSERT_TRUE(verifyJws(good, keys));
  EXPECT_EQ(errorOf("", keys), JwtError::Malformed);
  EXPECT_EQ(errorOf("a.b", keys), JwtError::Malformed);
  EXPECT_EQ(errorOf(good + ".x", keys), JwtError::Malformed);
  EXPECT_EQ(errorOf("a.b.c.d.e", keys), JwtError::Unsupported);  // JWE
  EXPECT_EQ(errorOf(good + "=", keys), JwtError::BadEncoding);
  EXPECT_EQ(errorOf(" " + good, keys), JwtError::BadEncoding);
  std::string plus = good;
  plus[plus.size() - 2] = '+';
  EXPECT_EQ(errorOf(plus, keys), JwtError::BadEncoding);
}

TEST(JwsVerifier, RejectsNonZeroTrailingBitsInSignature) {
  const Key key = hsKey();
  const auto keys = KeySet::create({key}).value();
  const std::string good = forge(key, R"({"alg":"HS256","kid":"k1"})");
  // A 32-byte tag is 43 characters; the last carries 2 unused bits. Set one of them.
  std::string tampered = good;
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto idx = alphabet.find(tampered.back());
  tampered.back() = alphabet[idx | 1U];
  ASSERT_NE(tampered, good);
  EXPECT_EQ(errorOf(tampered, keys), JwtError::BadEncoding);
}

TEST(JwsVerifier, RejectsBadHeaderJson) {
  const Key key = hsKey();
  const auto keys = KeySet::create({key}).value();
  EXPECT_EQ(errorOf(forge(key, R"({"alg":"HS256","alg":"HS256","kid":"k1"})"), keys),
            JwtError::BadJson);
  EXPECT_EQ(errorOf(forge(key, R"(["HS256"])"), keys), JwtError::BadJson);
  EXPECT_EQ(errorOf(forge(key, "{\"alg\":\"HS256\",\"kid\":\"k1\",\"x\":\"\xff\"}"), keys),
            JwtError::BadJson);
  EXPECT_EQ(errorOf(forge(key, R"({"alg":"HS256","kid":"k1"} )"
                               "x"),
                    keys),
            JwtError::BadJson);
  EXPECT_EQ(errorOf(forge(key, R"({"kid":"k1"})"), keys), JwtError::Malformed);
  EXPECT_EQ(errorOf(forge(key, R"({"alg":"HS256","kid":7})"), keys), JwtError::Malformed);
  EXPECT_EQ(errorOf(forge(key, R"({"alg":["HS256"],"kid":"k1"})"), keys), JwtError::Malformed);
  EXPECT_EQ(errorOf(forge(key, R"({"alg":"HS256","kid":{"a":1}})"), keys), JwtError::Malformed);
  EXPECT_EQ(errorOf(forge(key, R"({"alg":"HS256","kid":"k1","x":{"a":1,"a":2}})"), keys),
            JwtError::BadJson);
  EXPECT_EQ(errorOf(forge(key, R"({"alg":"HS256","kid":"k1","\u0061lg":"none"})"), keys),
            JwtError::BadJson);
  EXPECT_EQ(errorOf(forge(key, R"("HS256")"), keys), JwtError::BadJson);
  // Nested members named like header parameters do not count as them.
  EXPECT_TRUE(
      verifyJws(forge(key, R"({"alg":"HS256","kid":"k1","ext":{"alg":"none","jku":"x"}})"), keys));
}

TEST(JwsVerifier, ChecksSizeCapBeforeParsing) {
  const auto keys = KeySet::create({hsKey()}).value();
  const std::string huge(kDefaultMaxTokenBytes + 1, 'A');
  EXPECT_EQ(errorOf(huge, keys), JwtError::TooLarge);
  EXPECT_EQ(verifyJws(std::string(100, '.'), keys, {.max_token_bytes = 50}).error(),
            JwtError::TooLarge);
}

TEST(JwsVerifier, RefusesOversizedHeader) {
  const Key key = hsKey();
  const auto keys = KeySet::create({key}).value();
  const std::string big = R"({"alg":"HS256","kid":"k1","pad":")" + std::string(3000, 'p') + R"("})";
  EXPECT_EQ(errorOf(forge(key, big), keys), JwtError::TooLarge);
}

TEST(JwsVerifier, SelectsKeyByKid) {
  const Key a = Key::hmac(Algorithm::Hs256, std::string(32, 'a'), "a").value();
  const Key b = Key::hmac(Algorithm::Hs256, std::string(32, 'b'), "b").value();
  const auto keys = KeySet::create({a, b}).value();
  EXPECT_TRUE(verifyJws(signJws(b, "{}").value(), keys));
  EXPECT_EQ(errorOf(forge(a, R"({"alg":"HS256","kid":"b"})"), keys), JwtError::BadSignature);
  EXPECT_EQ(errorOf(forge(a, R"({"alg":"HS256","kid":"c"})"), keys), JwtError::UnknownKey);
  // Without a kid a multi-key set does not guess.
  EXPECT_EQ(errorOf(forge(a, R"({"alg":"HS256"})"), keys), JwtError::UnknownKey);
}

TEST(JwsVerifier, RejectsWrongLengthEcdsaSignatures) {
  const Key key =
      Key::asymmetric(Algorithm::Es256, crypto::generateEc(crypto::Curve::P256).value(), "e")
          .value();
  const auto keys = KeySet::create({key}).value();
  const std::string token = signJws(key, "{}").value();
  const std::size_t dot = token.rfind('.');
  const std::string sig = *core::base64urlDecode(token.substr(dot + 1));
  EXPECT_EQ(sig.size(), 64U);
  const std::string prefix = token.substr(0, dot + 1);
  EXPECT_EQ(errorOf(prefix + base64urlEncode(sig.substr(0, 63)), keys), JwtError::BadSignature);
  EXPECT_EQ(errorOf(prefix + base64urlEncode(std::string(1, '\0') + sig), keys),
            JwtError::BadSignature);
  EXPECT_EQ(errorOf(prefix + base64urlEncode(std::string(64, '\0')), keys), JwtError::BadSignature);
}

TEST(Key, RefusesShortHmacSecrets) {
  EXPECT_FALSE(Key::hmac(Algorithm::Hs256, std::string(31, 'x')));
  EXPECT_TRUE(Key::hmac(Algorithm::Hs256, std::string(32, 'x')));
  EXPECT_FALSE(Key::hmac(Algorithm::Hs384, std::string(47, 'x')));
  EXPECT_FALSE(Key::hmac(Algorithm::Hs512, std::string(63, 'x')));
  EXPECT_FALSE(Key::hmac(Algorithm::Rs256, std::string(64, 'x')));
}

TEST(Key, BindsCurveAndTypeToAlgorithm) {
  auto p256 = crypto::generateEc(crypto::Curve::P256).value();
  EXPECT_TRUE(Key::asymmetric(Algorithm::Es256, p256));
  EXPECT_FALSE(Key::asymmetric(Algorithm::Es384, p256));
  EXPECT_FALSE(Key::asymmetric(Algorithm::Rs256, p256));
  EXPECT_FALSE(Key::asymmetric(Algorithm::EdDsa, p256));
  EXPECT_FALSE(Key::asymmetric(Algorithm::Es256, crypto::generateEd25519().value()));
}

}  // namespace
}  // namespace gatehouse::jose
