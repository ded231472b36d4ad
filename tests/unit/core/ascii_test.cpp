#include "core/ascii.hpp"

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

TEST(Ascii, ChangesTheCaseOfLettersOnly) {
  EXPECT_EQ(lowerAscii("Content-Type: APPLICATION/Json; Q=1"),
            "content-type: application/json; q=1");
  EXPECT_EQ(upperAscii('z'), 'Z');
  EXPECT_EQ(upperAscii('-'), '-');
  // Bytes of UTF-8 text are not letters here: "İ" (U+0130) and "ß" stay as they are.
  EXPECT_EQ(lowerAscii("\xc4\xb0X\xc3\x9f"), "\xc4\xb0x\xc3\x9f");
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const bool upper = c >= 'A' && c <= 'Z';
    EXPECT_EQ(lowerAscii(ch), upper ? static_cast<char>(c + 32) : ch) << c;
  }
}

TEST(Ascii, ComparesWithoutRegardToCase) {
  static_assert(equalsIgnoringCase("Bearer", "bEARER"));
  EXPECT_TRUE(equalsIgnoringCase("Transfer-Encoding", "transfer-encoding"));
  EXPECT_FALSE(equalsIgnoringCase("chunked", "chunked "));
  EXPECT_FALSE(equalsIgnoringCase("none", "n0ne"));
  // '@' and '`' sit next to the letters: no arithmetic slip may make them equal to one.
  EXPECT_FALSE(equalsIgnoringCase("@", "`"));
  EXPECT_FALSE(equalsIgnoringCase("[", "{"));
  EXPECT_TRUE(startsWithIgnoringCase("BASIC dXNlcg==", "basic "));
  EXPECT_FALSE(startsWithIgnoringCase("Basi", "basic "));
  EXPECT_TRUE(startsWithIgnoringCase("anything", ""));
}

TEST(Ascii, TrimsTheGivenBytesAtBothEndsOnly) {
  static_assert(trimAscii(" \t value \t") == "value");
  EXPECT_EQ(trimAscii("a b\tc"), "a b\tc");  // inner white space stays
  EXPECT_EQ(trimAscii(" \t \t"), "");
  EXPECT_EQ(trimAscii(""), "");
  EXPECT_EQ(trimAscii("x"), "x");
  // By default only SP and HTAB (RFC 9110 OWS): a CR, LF, NUL or vertical tab is not white space
  // to a header field and must stay where the parser can see it.
  EXPECT_EQ(trimAscii("\rv\n"), "\rv\n");
  EXPECT_EQ(trimAscii(std::string_view("\0v\v", 3)), std::string_view("\0v\v", 3));
  EXPECT_EQ(trimAscii("\t name \r", " \t\r"), "name");
  EXPECT_EQ(trimAscii("\t name ", " "), "\t name");
}

}  // namespace
}  // namespace gatehouse::core
