#include "webauthn/cose.hpp"

#include <gtest/gtest.h>

#include "crypto/pkey.hpp"
#include "support/vectors.hpp"

namespace gatehouse::webauthn {
namespace {

using testing::unhex;

// {1: 1, 3: -8, -1: 6, -2: x}
std::string okp(const std::string& x) { return unhex("a4010103272006215820") + x; }

TEST(CoseKeys, Ed25519KeysOfSmallOrderOrNonCanonicalAreRefused) {
  // The W3C packed Ed25519 vector's key (any ordinary key) is taken.
  ASSERT_TRUE(coseKeyFromBytes(
      okp(unhex("a9ab6e4a6e0e1b0d63e1ea9f17e9f71e7ac0fd19ff2d2f0bd3c7ec4bd7d7a69f")), KeyAge::New));
  const std::vector<std::string> weak{
      std::string(32, '\0'),                                                      // order 4
      unhex("01") + std::string(31, '\0'),                                        // identity
      unhex("0000000000000000000000000000000000000000000000000000000000000080"),  // -0
      unhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  // order 8
      unhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
      unhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
      unhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
      unhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  // p-1
      unhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  // p
      unhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),  // p+1, sign
  };
  for (const auto& x : weak) {
    auto key = coseKeyFromBytes(okp(x), KeyAge::New);
    ASSERT_FALSE(key);
    EXPECT_NE(key.error().message.find("small order"), std::string::npos);
  }
}

TEST(CoseKeys, AnAlgorithmIsBoundToItsKeyTypeAndCurve) {
  // EdDSA named on an EC2 key, ES256 on an OKP key, an unknown alg, a missing coordinate.
  EXPECT_FALSE(coseKeyFromBytes(unhex("a40102032720012158200000"), KeyAge::New));
  EXPECT_FALSE(
      coseKeyFromBytes(unhex("a4010103262006215820") + std::string(32, '\x11'), KeyAge::New));
  EXPECT_FALSE(
      coseKeyFromBytes(unhex("a401010338ff2006215820") + std::string(32, '\x11'), KeyAge::New));
  EXPECT_FALSE(coseKeyFromBytes(unhex("a3010103272006"), KeyAge::New));
}

// {1: 3, 3: -257, -1: n, -2: e} with a real 2048-bit modulus and the exponent `e`, big-endian.
std::string rsa(const std::string& e) {
  static const std::string n =
      crypto::rsaComponents(crypto::generateRsa(2048).value().get(), false).value().n;
  std::string head = unhex("a401030339010020590100") + n + unhex("21");
  // A byte string of e.size() bytes: the length in the head, or in one or two bytes after it.
  if (e.size() < 24) {
    head += std::string(1, static_cast<char>(0x40 + e.size()));
  } else if (e.size() < 256) {
    head += unhex("58") + std::string(1, static_cast<char>(e.size()));
  } else {
    head += unhex("59") + std::string(1, static_cast<char>(e.size() >> 8U)) +
            std::string(1, static_cast<char>(e.size() & 0xFFU));
  }
  return head + e;
}

TEST(CoseKeys, RsaExponentsAreOddAboveTwoToTheSixteenAndBelowTwoToThe256) {
  auto usual =
      coseKeyFromBytes(rsa(unhex("010001")), KeyAge::New);  // 65537, what authenticators use
  ASSERT_TRUE(usual) << usual.error().message;
  ASSERT_TRUE(
      coseKeyFromBytes(rsa(unhex("00010001")), KeyAge::New));  // a leading zero byte ignored
  ASSERT_TRUE(coseKeyFromBytes(rsa(std::string(32, '\xff')), KeyAge::New));  // 2^256 - 1
  for (const std::string& e :
       {unhex("03"), unhex("0101"), unhex("00ffff"), unhex("010000"), unhex("010002"),
        unhex("01") + std::string(32, '\0') + unhex("01"),  // 2^256 + 1
        std::string(300, '\xff'),                           // longer than the modulus
        std::string(3, '\0'), std::string()}) {
    auto key = coseKeyFromBytes(rsa(e), KeyAge::New);
    ASSERT_FALSE(key) << e.size();
    EXPECT_NE(key.error().message.find("RSA exponent"), std::string::npos) << key.error().message;
  }
  // A passkey stored before the rule keeps working (e = 3 met the older one); a huge exponent,
  // an even one or 1 (every "signature" verifies), stored or new, never does.
  EXPECT_TRUE(coseKeyFromBytes(rsa(unhex("03")), KeyAge::Stored));
  EXPECT_TRUE(coseKeyFromBytes(rsa(std::string(32, '\xff')), KeyAge::Stored));
  for (const std::string& e :
       {unhex("01") + std::string(32, '\0') + unhex("01"), std::string(300, '\xff'), unhex("01"),
        unhex("0001"), unhex("04"), unhex("010000"), std::string()}) {
    auto key = coseKeyFromBytes(rsa(e), KeyAge::Stored);
    ASSERT_FALSE(key) << e.size();
    EXPECT_NE(key.error().message.find("RSA exponent"), std::string::npos) << key.error().message;
  }
}

}  // namespace
}  // namespace gatehouse::webauthn
