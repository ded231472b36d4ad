#include "crypto/hmac.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace gatehouse::crypto {
namespace {

TEST(HmacKey, MatchesRfc4231Case2) {
  auto key = HmacKey::create(Digest::Sha256, "Jefe");
  ASSERT_TRUE(key);
  auto tag = key->sign("what do ya want for nothing?");
  ASSERT_TRUE(tag);
  EXPECT_EQ(testing::unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            *tag);
  EXPECT_EQ(hmac(Digest::Sha256, "Jefe", "what do ya want for nothing?").value(), *tag);
}

// SHA-1 exists for TOTP only (RFC 6238); RFC 2202 §3 test case 1.
TEST(HmacKey, MatchesRfc2202Sha1Case1) {
  auto key = HmacKey::create(Digest::Sha1, std::string(20, '\x0b'));
  ASSERT_TRUE(key);
  const std::string expected = testing::unhex("b617318655057264e28bc0b6fb378c8ef146be00");
  EXPECT_EQ(key->sign("Hi There").value(), expected);
  EXPECT_EQ(hmac(Digest::Sha1, std::string(20, '\x0b'), "Hi There").value(), expected);
  EXPECT_EQ(digestSize(Digest::Sha1), 20U);
}

TEST(HmacKey, RejectsEmptyKeyAndTruncatedTags) {
  EXPECT_FALSE(HmacKey::create(Digest::Sha256, ""));
  auto key = HmacKey::create(Digest::Sha256, std::string(32, 'k'));
  ASSERT_TRUE(key);
  const std::string tag = key->sign("data").value();
  EXPECT_TRUE(key->verify("data", tag));
  EXPECT_FALSE(key->verify("data", tag.substr(0, 16)));
  EXPECT_FALSE(key->verify("data", tag + "x"));
  EXPECT_FALSE(key->verify("datb", tag));
}

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "ab"));
  EXPECT_TRUE(constantTimeEquals("", ""));
}

// Wycheproof HMAC vectors through the primitive that HS* keys use. Truncated-tag groups must all
// be refused, because JWS compares the full tag.
void runWycheproofHmac(const char* file, Digest digest) {
  const auto doc = testing::readJson(testing::vectorsDir() / "wycheproof" / file);
  int checked = 0;
  for (const auto& group : doc.at("testGroups").as_array()) {
    const auto tag_bits = group.at("tagSize").as_int64();
    const bool full_tag = static_cast<std::size_t>(tag_bits) == digestSize(digest) * 8;
    for (const auto& t : group.at("tests").as_array()) {
      const std::string key_bytes = testing::unhex(t.at("key").as_string());
      const std::string msg = testing::unhex(t.at("msg").as_string());
      const std::string tag = testing::unhex(t.at("tag").as_string());
      const bool valid = t.at("result").as_string() == "valid";
      auto key = HmacKey::create(digest, key_bytes);
      ASSERT_TRUE(key) << "tcId " << t.at("tcId").as_int64();
      const bool ok = key->verify(msg, tag);
      EXPECT_EQ(ok, valid && full_tag) << file << " tcId " << t.at("tcId").as_int64();
      ++checked;
    }
  }
  EXPECT_EQ(checked, doc.at("numberOfTests").as_int64());
}

TEST(HmacKey, WycheproofSha256) { runWycheproofHmac("hmac_sha256_test.json", Digest::Sha256); }
TEST(HmacKey, WycheproofSha384) { runWycheproofHmac("hmac_sha384_test.json", Digest::Sha384); }
TEST(HmacKey, WycheproofSha512) { runWycheproofHmac("hmac_sha512_test.json", Digest::Sha512); }

}  // namespace
}  // namespace gatehouse::crypto
