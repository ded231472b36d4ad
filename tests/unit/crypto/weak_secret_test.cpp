#include "crypto/weak_secret.hpp"

#include <cctype>
#include <string>

#include <gtest/gtest.h>

#include "crypto/random.hpp"

namespace gatehouse::crypto {
namespace {

TEST(WeakSecret, RandomKeysOfEveryShapePass) {
  for (int i = 0; i < 200; ++i) {
    auto raw = randomBytes(32);
    ASSERT_TRUE(raw);
    EXPECT_EQ(notASecret(*raw), std::nullopt);
    auto text = randomToken(32);  // what `openssl rand -base64 32` gives, near enough
    ASSERT_TRUE(text);
    EXPECT_EQ(notASecret(*text), std::nullopt);
  }
  // `openssl rand -hex 32`: 16 possible values, 64 characters.
  EXPECT_EQ(notASecret("4f1d2c3b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f"),
            std::nullopt);
}

TEST(WeakSecret, ShortKeysAreRefusedWithTheirLength) {
  EXPECT_EQ(notASecret(""), "holds 0 bytes");
  EXPECT_EQ(notASecret("0123456789abcdefghijklmnopqrstu"), "holds 31 bytes");
  EXPECT_EQ(notASecret("0123456789abcdefghijklmnopqrstuv"), std::nullopt);
  // Text padded to the length with white space: the padding does not count. A newline after a
  // key of the length does no harm; raw bytes are never trimmed.
  EXPECT_EQ(notASecret("0123456789abcdefghij" + std::string(12, ' ')),
            "holds 20 bytes besides white space at its ends");
  EXPECT_EQ(notASecret("\n\n0123456789abcdefghijklmnopqrstu\n"),
            "holds 31 bytes besides white space at its ends");
  EXPECT_EQ(notASecret("0123456789abcdefghijklmnopqrstuv\n"), std::nullopt);
  std::string raw =
      "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14"
      "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x80\x81";
  raw = " " + raw + "\n";
  ASSERT_EQ(raw.size(), 33U);
  EXPECT_EQ(notASecret(raw), std::nullopt);
}

TEST(WeakSecret, ZeroedOrRepeatedKeysAreRefused) {
  const auto zeroed = notASecret(std::string(64, '\0'));
  ASSERT_TRUE(zeroed);
  EXPECT_NE(zeroed->find("only 1 distinct values"), std::string::npos) << *zeroed;
  // Seven distinct values in no pattern: still refused; an eighth lets it pass.
  const std::string seven = "aabbccddeeffggggfedcbaabcdefgabc";
  EXPECT_NE(notASecret(seven).value_or("").find("only 7 distinct values"), std::string::npos);
  EXPECT_EQ(notASecret("aabbccddeeffgghhhgfedcbaabcdefgh"), std::nullopt);
}

TEST(WeakSecret, APatternRepeatedIsRefused) {
  EXPECT_EQ(notASecret("changeme-changeme-changeme-changeme"), "repeats one pattern of 9 bytes");
  EXPECT_EQ(notASecret("0123456789abcdef0123456789abcdef"), "repeats one pattern of 16 bytes");
  // A partial last repetition, white space at the ends: the same pattern.
  EXPECT_EQ(notASecret("secret-key-secret-key-secret-key-secret\n"),
            "repeats one pattern of 11 bytes");
  // Once and a bit is no repetition: the longer half is not told by the shorter.
  EXPECT_EQ(notASecret("0123456789abcdefghijklmnopqrstuvwxyz0123"), std::nullopt);
  // Long values stay cheap to judge (the period is found in one pass).
  std::string long_random;
  for (int i = 0; i < 2000; ++i) long_random += *randomToken(32);
  EXPECT_EQ(notASecret(long_random), std::nullopt);
  EXPECT_EQ(notASecret(long_random + long_random),
            "repeats one pattern of " + std::to_string(long_random.size()) + " bytes");
}

TEST(WeakSecret, PublishedExamplesAreRefusedWholeOnly) {
  for (const std::string published :
       {"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
        "CHANGE-ME-the-same-on-every-node-at-least-32-bytes",
        "at-least-32-random-bytes-for-HS256"}) {
    const auto why = notASecret(published);
    ASSERT_TRUE(why) << published;
    EXPECT_NE(why->find("published"), std::string::npos) << *why;
    // As pasted: a newline or spaces at the ends, hex in capitals, are the same key.
    for (const std::string& pasted : {published + "\n", " " + published + " \r\n"}) {
      std::string upper = pasted;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      EXPECT_EQ(notASecret(pasted), why) << pasted;
      EXPECT_EQ(notASecret(upper), why) << upper;
    }
    // One character changed is another key: refused only by the other rules.
    std::string changed = published;
    changed.back() = changed.back() == 'x' ? 'y' : 'x';
    EXPECT_EQ(notASecret(changed), std::nullopt) << changed;
  }
}

}  // namespace
}  // namespace gatehouse::crypto
