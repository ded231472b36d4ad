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
  // Names people write: accents, CJK, an emoji with its variation selector (U+FE0F), a family
  // emoji joined by U+200D, Persian with U+200C, a no-break space, an ideographic space.
  for (const char* good :
       {"", "Laptop", "Cl\xC3\xA9 USB", "\xE9\x8D\xB5", "key \xF0\x9F\x94\x91", "a-b_c (2)",
        "\xF0\x9F\x96\xA5\xEF\xB8\x8F", "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9",
        "\xD9\x85\xDB\x8C\xE2\x80\x8C\xD8\xAE\xD9\x88\xD8\xA7\xD9\x87\xD9\x85",
        "a\xC2\xA0"
        "b",
        "\xE9\x8D\xB5\xE3\x80\x80"
        "2"}) {
    EXPECT_TRUE(isDisplayText(good)) << good;
  }
  // The flag of England (U+1F3F4, tags "gbeng", U+E007F), and the black flag alone.
  EXPECT_TRUE(
      isDisplayText("\xF0\x9F\x8F\xB4\xF3\xA0\x81\xA7\xF3\xA0\x81\xA2\xF3\xA0\x81\xA5"
                    "\xF3\xA0\x81\xAE\xF3\xA0\x81\xA7\xF3\xA0\x81\xBF"));
  EXPECT_TRUE(isDisplayText("\xF0\x9F\x8F\xB4 x"));
  // C0 and DEL, C1 (NEL), the right-to-left override, an isolate, the line separator, a
  // zero-width space, a byte-order mark, a soft hyphen, a Hangul filler (it renders blank), a
  // tag character outside a flag, a flag's tags that never end, and text that is not UTF-8.
  for (const char* bad : {"a\x01", "\x7F", "\xC2\x85x",
                          "\xE2\x80\xAE"
                          "evil",
                          "\xE2\x81\xA7"
                          "x",
                          "\xE2\x80\xA8", "a\xE2\x80\x8B", "\xEF\xBB\xBF",
                          "a\xC2\xAD"
                          "b",
                          "\xE3\x85\xA4", "\xF3\xA0\x80\x81",
                          "\xF0\x9F\x8F\xB4\xF3\xA0\x81\xA7"
                          "x",
                          "\xF0\x9F\x8F\xB4\xF3\xA0\x81\xA7", "\xFF"}) {
    EXPECT_FALSE(isDisplayText(bad)) << bad;
    EXPECT_TRUE(displayTextProblem(bad)) << bad;
  }
  // A passkey attack: names that show nothing (a joiner, a variation selector or a combining
  // mark alone, spaces of any kind, the blank Braille pattern), U+180E, and noncharacters. A mark
  // on a letter, and spaces between words, are fine.
  for (const char* blank : {"\xE2\x80\x8D", "\xEF\xB8\x8F", "\xCC\x81", "\xE2\xA0\x80",
                            "\xE3\x80\x80", " ", "  \xC2\xA0"}) {
    EXPECT_EQ(displayTextProblem(blank), "shows nothing (only spaces, joiners or combining marks)")
        << blank;
  }
  // U+180E is Mongolian spelling's (a review): in a word, fine; alone, it shows nothing.
  EXPECT_EQ(displayTextProblem("\xE1\xA0\x8E"),
            "shows nothing (only spaces, joiners or combining marks)");
  EXPECT_TRUE(isDisplayText("\xE1\xA0\xA0\xE1\xA0\x8E\xE1\xA0\xA0"));
  EXPECT_EQ(displayTextProblem("a\xEF\xBF\xBE"), "holds a noncharacter");
  EXPECT_EQ(displayTextProblem("\xF4\x8F\xBF\xBF"), "holds a noncharacter");
  EXPECT_EQ(displayTextProblem("\xEF\xB7\x90"), "holds a noncharacter");
  EXPECT_TRUE(isDisplayText("e\xCC\x81t\xC3\xA9 key"));
  // The problem named is the first one in the text.
  EXPECT_EQ(displayTextProblem("ok name"), std::nullopt);
  EXPECT_EQ(displayTextProblem("a\x01\xFF"), "holds a control character");
  EXPECT_EQ(displayTextProblem("a\xFF\x01"), "is not UTF-8");
  EXPECT_EQ(displayTextProblem("\xE2\x80\xAE\x01"),
            "holds an invisible or direction-changing character");
  EXPECT_EQ(displayTextProblem("\xF0\x9F\x8F\xB4\xF3\xA0\x81\xA7"),
            "holds an invisible or direction-changing character");
  EXPECT_TRUE(hidesOrReorders(0x202E));
  EXPECT_FALSE(hidesOrReorders(0x200D));
  // The email check's wider set (isInvisible) also holds the joiners and spaces.
  EXPECT_TRUE(isInvisible(0x200D));
  EXPECT_TRUE(isInvisible(0x00A0));
  EXPECT_FALSE(isInvisible(0x00E9));
}

// Found by a review: a User-Agent of invalid UTF-8, or cut by bytes inside a character, made
// PostgreSQL refuse the session and the audit record (a 500, a failed login unrecorded).
TEST(Utf8, StorableTextIsUtf8WithoutControlsCutAtACharactersEnd) {
  EXPECT_EQ(storableText("Mozilla/5.0 (X11)", 512), "Mozilla/5.0 (X11)");
  EXPECT_EQ(storableText("evil\xFF\xFE", 512), "evil??");
  EXPECT_EQ(storableText(std::string("a\0b\x01\x7F", 5), 512), "a?b??");
  EXPECT_EQ(storableText("\xC0\xAF\xED\xA0\x80", 512), "?????");  // overlong, surrogate
  EXPECT_EQ(storableText("caf\xC3\xA9!", 512), "caf\xC3\xA9!");
  // 511 bytes and a two-byte character: the character does not fit, and is not cut in half.
  const std::string long_ua = std::string(511, 'a') + "\xC3\xA9";
  EXPECT_EQ(storableText(long_ua, 512), std::string(511, 'a'));
  EXPECT_EQ(storableText("\xF0\x9F\x98\x80x", 4), "\xF0\x9F\x98\x80");
  EXPECT_EQ(storableText("\xF0\x9F\x98\x80x", 3), "");
  EXPECT_EQ(storableText("ab\xFF", 2), "ab");
  for (const std::string& text : {std::string(600, '\xFF'), long_ua, std::string("\xE2\x82")})
    EXPECT_TRUE(isValidUtf8(storableText(text, 512))) << text.size();
}

}  // namespace
}  // namespace gatehouse::core
