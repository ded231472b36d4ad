#include "core/utf8.hpp"

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

TEST(Utf8, DecodesCodePointsOfEveryLength) {
  EXPECT_EQ(decodeUtf8("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
            (std::vector<std::uint32_t>{0x61, 0xE9, 0x20AC, 0x1F600}));
  EXPECT_EQ(decodeUtf8(""), std::vector<std::uint32_t>{});
  EXPECT_TRUE(isValidUtf8("plain ascii"));
}

TEST(Utf8, RefusesMalformedOverlongSurrogatesAndOutOfRange) {
  for (const char* bad : {"\x80", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xED\xA0\x80",
                          "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80", "\xC3", "\xE2\x82", "\xFF"}) {
    EXPECT_EQ(decodeUtf8(bad), std::nullopt) << bad;
    EXPECT_FALSE(isValidUtf8(bad)) << bad;
  }
}

TEST(Utf8, DisplayTextIsReadableTextOnly) {
  for (const char* good :
       {"", "Laptop", "Cl\xC3\xA9 USB", "\xE9\x8D\xB5", "key \xF0\x9F\x94\x91", "a-b_c (2)"}) {
    EXPECT_TRUE(isDisplayText(good)) << good;
  }
  // C0 and DEL, C1 (NEL), the right-to-left override, the line separator, a zero-width space, a
  // byte-order mark, a no-break space, a tag character, and text that is not UTF-8.
  for (const char* bad : {"a\x01", "\x7F", "\xC2\x85x",
                          "\xE2\x80\xAE"
                          "evil",
                          "\xE2\x80\xA8", "a\xE2\x80\x8B", "\xEF\xBB\xBF",
                          "a\xC2\xA0"
                          "b",
                          "\xF3\xA0\x80\x81", "\xFF"}) {
    EXPECT_FALSE(isDisplayText(bad)) << bad;
  }
  EXPECT_TRUE(isInvisible(0x200B));
  EXPECT_FALSE(isInvisible(0x00E9));
}

}  // namespace
}  // namespace gatehouse::core
