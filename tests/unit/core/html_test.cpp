// escapeHtml: the five characters that end text or a quoted attribute become entities.
#include "core/html.hpp"

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

TEST(EscapeHtml, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(escapeHtml("&"), "&amp;");
  EXPECT_EQ(escapeHtml("<"), "&lt;");
  EXPECT_EQ(escapeHtml(">"), "&gt;");
  EXPECT_EQ(escapeHtml("\""), "&quot;");
  EXPECT_EQ(escapeHtml("'"), "&#39;");
  EXPECT_EQ(escapeHtml("<a href=\"x\" title='y'>Tom & Jerry</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;");
}

TEST(EscapeHtml, LeavesEverythingElseAsItIs) {
  EXPECT_EQ(escapeHtml(""), "");
  EXPECT_EQ(escapeHtml("plain text 123 /=;:"), "plain text 123 /=;:");
  EXPECT_EQ(escapeHtml("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");
  // An entity already written is escaped again: the input is text, never markup.
  EXPECT_EQ(escapeHtml("&amp;"), "&amp;amp;");
  EXPECT_EQ(escapeHtml(std::string("a\0b", 3)), std::string("a\0b", 3));
}

}  // namespace
}  // namespace gatehouse::core
