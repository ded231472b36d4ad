#pragma once

// Checks the pages' HTML against what their Content-Security-Policy allows.
// GCC 12 warns falsely inside std::regex's own std::function at -O1 (maybe-uninitialized).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <string>

#include <gtest/gtest.h>

namespace gatehouse::testing {

// Fails when the page holds anything the CSP (script-src 'self', style-src 'self') would block.
inline void expectNoInlineCode(const std::string& html) {
  // Inside tags only: escaped text may say anything.
  EXPECT_FALSE(std::regex_search(html, std::regex("<[^>]*\\sstyle\\s*=", std::regex::icase)))
      << html;
  EXPECT_FALSE(std::regex_search(html, std::regex("<[^>]*\\son[a-z]+\\s*=", std::regex::icase)))
      << html;
  EXPECT_EQ(html.find("<style"), std::string::npos) << html;
  EXPECT_EQ(html.find("javascript:"), std::string::npos) << html;
  // Every <script> has a src and nothing between its tags.
  const std::regex script("<script([^>]*)>([\\s\\S]*?)</script>", std::regex::icase);
  std::size_t scripts = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), script);
       it != std::sregex_iterator(); ++it) {
    ++scripts;
    EXPECT_NE((*it)[1].str().find("src="), std::string::npos) << (*it)[0].str();
    EXPECT_EQ((*it)[2].str(), "") << (*it)[0].str();
  }
  std::size_t opened = 0;
  for (auto at = html.find("<script"); at != std::string::npos; at = html.find("<script", at + 1))
    ++opened;
  EXPECT_EQ(opened, scripts) << "an unclosed <script>";
}

}  // namespace gatehouse::testing
