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

}  // namespace
}  // namespace gatehouse::core
