#include "mfa/base32.hpp"

#include <array>
#include <utility>

#include <gtest/gtest.h>

namespace gatehouse::mfa {
namespace {

// RFC 4648 §10, with the padding dropped on encode.
TEST(Base32, EncodesRfc4648Vectors) {
  EXPECT_EQ(base32Encode(""), "");
  EXPECT_EQ(base32Encode("f"), "MY");
  EXPECT_EQ(base32Encode("fo"), "MZXQ");
  EXPECT_EQ(base32Encode("foo"), "MZXW6");
  EXPECT_EQ(base32Encode("foob"), "MZXW6YQ");
  EXPECT_EQ(base32Encode("fooba"), "MZXW6YTB");
  EXPECT_EQ(base32Encode("foobar"), "MZXW6YTBOI");
}

TEST(Base32, DecodesRfc4648VectorsPaddedOrNot) {
  const std::array<std::pair<const char*, const char*>, 7> vectors = {{
      {"", ""},
      {"f", "MY======"},
      {"fo", "MZXQ===="},
      {"foo", "MZXW6==="},
      {"foob", "MZXW6YQ="},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI======"},
  }};
  for (const auto& [plain, padded] : vectors) {
    const std::string text = padded;
    const std::string unpadded = text.substr(0, text.find('='));
    EXPECT_EQ(base32Decode(text), std::string(plain)) << text;
    EXPECT_EQ(base32Decode(unpadded), std::string(plain)) << unpadded;
  }
}

TEST(Base32, DecodesLowerAndMixedCase) {
  EXPECT_EQ(base32Decode("mzxw6ytboi"), std::string("foobar"));
  EXPECT_EQ(base32Decode("mZxW6yTbOi======"), std::string("foobar"));
}

TEST(Base32, RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= all.size(); len += 7) {
    const std::string s = all.substr(0, len);
    EXPECT_EQ(base32Decode(base32Encode(s)), s) << len;
  }
}

TEST(Base32, RejectsForeignCharacters) {
  EXPECT_FALSE(base32Decode("M1"));  // 0, 1, 8, 9 are not in the alphabet
  EXPECT_FALSE(base32Decode("MZXW6YT8"));
  EXPECT_FALSE(base32Decode("MZXW 6YTB"));
  EXPECT_FALSE(base32Decode(" MY"));
  EXPECT_FALSE(base32Decode("MY\n"));
  EXPECT_FALSE(base32Decode("MZXW-6YTB"));
  EXPECT_FALSE(base32Decode(std::string("MY\0", 3)));
  EXPECT_FALSE(base32Decode("MZ\xc3\xa9Q"));
}

TEST(Base32, RejectsBadPadding) {
  EXPECT_FALSE(base32Decode("MY="));        // incomplete
  EXPECT_FALSE(base32Decode("MY======="));  // one too many
  EXPECT_FALSE(base32Decode("========"));   // padding alone
  EXPECT_FALSE(base32Decode("MZXW6YTB========"));
  EXPECT_FALSE(base32Decode("MY======MY"));  // data after padding
  EXPECT_FALSE(base32Decode("M=Y====="));
}

TEST(Base32, RejectsImpossibleLengths) {
  EXPECT_FALSE(base32Decode("M"));
  EXPECT_FALSE(base32Decode("MZX"));
  EXPECT_FALSE(base32Decode("MZXW6Y"));
  EXPECT_FALSE(base32Decode("M======="));
}

TEST(Base32, RejectsNonZeroTrailingBits) {
  EXPECT_TRUE(base32Decode("MY"));
  EXPECT_FALSE(base32Decode("MZ"));  // same byte 'f' with a stray low bit
  EXPECT_TRUE(base32Decode("MZXW6"));
  EXPECT_FALSE(base32Decode("MZXW7"));
  EXPECT_FALSE(base32Decode("MZXW6YTBOJ"));
}

}  // namespace
}  // namespace gatehouse::mfa
