#include "core/base64url.hpp"

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

TEST(Base64url, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64urlEncode(""), "");
  EXPECT_EQ(base64urlEncode("f"), "Zg");
  EXPECT_EQ(base64urlEncode("fo"), "Zm8");
  EXPECT_EQ(base64urlEncode("foo"), "Zm9v");
  EXPECT_EQ(base64urlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64urlEncode("\xfb\xff"), "-_8");
}

TEST(Base64url, RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= all.size(); len += 37) {
    const std::string s = all.substr(0, len);
    EXPECT_EQ(base64urlDecode(base64urlEncode(s)), s);
  }
}

TEST(Base64url, RejectsPaddingAndForeignAlphabet) {
  EXPECT_FALSE(base64urlDecode("Zg=="));
  EXPECT_FALSE(base64urlDecode("Zm8="));
  EXPECT_FALSE(base64urlDecode("+/8"));
  EXPECT_FALSE(base64urlDecode("Zm 9v"));
  EXPECT_FALSE(base64urlDecode("Zm9v\n"));
  EXPECT_FALSE(base64urlDecode("Zm9?"));
}

TEST(Base64url, RejectsImpossibleLength) { EXPECT_FALSE(base64urlDecode("Zm9vY")); }

TEST(Base64url, RejectsNonZeroTrailingBits) {
  EXPECT_TRUE(base64urlDecode("Zg"));
  EXPECT_FALSE(base64urlDecode("Zh"));  // same byte 'f' with a stray low bit
  EXPECT_TRUE(base64urlDecode("Zm8"));
  EXPECT_FALSE(base64urlDecode("Zm9"));
}

TEST(Hex, RoundTripsAndRejectsOddInput) {
  EXPECT_EQ(hexEncode("\x01\xab"), "01ab");
  EXPECT_EQ(hexDecode("01AB"), std::string("\x01\xab"));
  EXPECT_FALSE(hexDecode("abc"));
  EXPECT_FALSE(hexDecode("zz"));
}

}  // namespace
}  // namespace gatehouse::core

namespace gatehouse::core {
namespace {

TEST(Base64, StandardAlphabetWithPadding) {
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(base64Decode("Zm9vOmJhcg=="), std::string("foo:bar"));
  EXPECT_EQ(base64Decode("+/8="), std::string("\xfb\xff"));
  EXPECT_FALSE(base64Decode("Zg"));    // padding is required
  EXPECT_FALSE(base64Decode("-_8="));  // URL alphabet is not standard base64
  EXPECT_FALSE(base64Decode("Z==="));
  EXPECT_FALSE(base64Decode("Zg=a"));
}

}  // namespace
}  // namespace gatehouse::core
