// The pages people open from an emailed link: escaped, a form posting the token, and nothing the
// Content-Security-Policy would block (no inline script or style).
#include "ui/pages.hpp"

#include <algorithm>
// GCC 12 warns falsely inside std::regex's own std::function at -O1 (maybe-uninitialized).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/html_checks.hpp"

namespace gatehouse::ui {
namespace {

using testing::expectNoInlineCode;

constexpr TokenForm kResetForm{"/ui/reset-password", "Choose a new password",
                               "Enter a new password for your account.", "Set password", true};
constexpr TokenForm kVerifyForm{"/ui/verify-email", "Verify your email address",
                                "Confirm the address of your account.", "Verify", false};

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every value of attribute `name` in `html` (double-quoted, as the pages write them), in tags
// named `tag` (any tag when empty).
std::vector<std::string> attributeValues(const std::string& html, const std::string& name,
                                         const std::string& tag = "") {
  std::vector<std::string> out;
  const std::regex attribute("<" + (tag.empty() ? std::string("[a-z]+") : tag) + "\\s[^>]*?\\b" +
                             name + "=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), attribute);
       it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

TEST(TokenPage, EscapesTheTitleTheErrorAndTheBrand) {
  TokenForm form = kResetForm;
  form.title = "<b>Title</b>";
  const std::string html =
      tokenPage(form, "A&B \"Corp\"", "csrf-token", "<script>alert('x')</script> & \"more\"");
  EXPECT_TRUE(contains(html, "&lt;b&gt;Title&lt;/b&gt;"));
  EXPECT_FALSE(contains(html, "<b>Title</b>"));
  EXPECT_TRUE(
      contains(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"));
  EXPECT_FALSE(contains(html, "<script>alert"));
  EXPECT_TRUE(contains(html, "A&amp;B &quot;Corp&quot;"));
  EXPECT_FALSE(contains(html, "A&B"));
  expectNoInlineCode(html);
}

TEST(TokenPage, ShowsTheErrorOnlyWhenThereIsOne) {
  const std::string with =
      tokenPage(kVerifyForm, "Gatehouse", "csrf-token", "That link has expired.");
  const std::string without = tokenPage(kVerifyForm, "Gatehouse", "csrf-token");
  EXPECT_TRUE(contains(with, "That link has expired."));
  EXPECT_TRUE(contains(with, "role=\"alert\""));
  EXPECT_FALSE(contains(without, "role=\"alert\""));
  EXPECT_FALSE(contains(without, "class=\"error\""));
}

TEST(TokenPage, HasAFormPostingTheTokenToItsPath) {
  const std::string html = tokenPage(kVerifyForm, "Gatehouse", "csrf-token");
  EXPECT_TRUE(std::regex_search(
      html, std::regex("<form[^>]*method=\"post\"[^>]*action=\"/ui/verify-email\"[^>]*>")))
      << html;
  EXPECT_EQ(attributeValues(html, "name", "input"), (std::vector<std::string>{"csrf", "token"}));
  // The CSRF token rides in the form, hidden.
  EXPECT_TRUE(contains(html, "<input type=\"hidden\" name=\"csrf\" value=\"csrf-token\">"));
  EXPECT_TRUE(std::regex_search(html, std::regex("<input[^>]*name=\"token\"[^>]*required")));
  EXPECT_TRUE(std::regex_search(html, std::regex("<button[^>]*type=\"submit\"[^>]*>Verify<")));
  // The form ends after its fields and button.
  const auto form_at = html.find("<form");
  const auto end_at = html.find("</form>");
  ASSERT_NE(end_at, std::string::npos);
  EXPECT_LT(form_at, html.find("name=\"token\""));
  EXPECT_GT(end_at, html.find("<button"));
  expectNoInlineCode(html);
}

TEST(TokenPage, AsksForTheNewPasswordWhenTheFormSaysSo) {
  const std::string html = tokenPage(kResetForm, "Gatehouse", "csrf-token");
  EXPECT_EQ(attributeValues(html, "name", "input"),
            (std::vector<std::string>{"csrf", "token", "new_password"}));
  EXPECT_TRUE(std::regex_search(
      html, std::regex("<input[^>]*name=\"new_password\"[^>]*type=\"password\"[^>]*>")));
  EXPECT_TRUE(contains(html, "autocomplete=\"new-password\""));
  EXPECT_TRUE(contains(html, "action=\"/ui/reset-password\""));
  expectNoInlineCode(html);
}

TEST(TokenPage, LoadsItsScriptAndStylesheetFromThisServer) {
  const std::string html = tokenPage(kResetForm, "Gatehouse", "csrf-token");
  EXPECT_TRUE(std::regex_search(html, std::regex("<script[^>]*src=\"/ui/static/gatehouse.js\"")));
  const auto sources = attributeValues(html, "src");
  const auto links = attributeValues(html, "href");
  std::vector<std::string> referenced = sources;
  referenced.insert(referenced.end(), links.begin(), links.end());
  ASSERT_FALSE(referenced.empty());
  for (const auto& path : referenced) {
    if (path == "data:,") continue;  // the empty favicon: no request at all
    ASSERT_TRUE(path.starts_with("/ui/static/")) << path;
    // brand.css is made from the configuration (brandStylesheet), the others compiled in.
    if (path == "/ui/static/brand.css") continue;
    EXPECT_TRUE(staticAsset(path.substr(std::string_view("/ui/static/").size()))) << path;
  }
  // The script fills the page's token field (found by its id) from the link's fragment.
  const auto script = staticAsset("gatehouse.js");
  ASSERT_TRUE(script);
  const auto ids = attributeValues(html, "id");
  EXPECT_NE(std::find(ids.begin(), ids.end(), "token"), ids.end());
  EXPECT_TRUE(contains(std::string(script->body), "getElementById(\"token\")"));
}

TEST(MessagePage, EscapesItsTextAndHasNoInlineCode) {
  const std::string html = messagePage("Gate<house>", "Done & dusted", "<img src=x onerror=y>");
  EXPECT_TRUE(contains(html, "Done &amp; dusted"));
  EXPECT_TRUE(contains(html, "&lt;img src=x onerror=y&gt;"));
  EXPECT_TRUE(contains(html, "Gate&lt;house&gt;"));
  EXPECT_FALSE(contains(html, "<img"));
  expectNoInlineCode(html);
}

TEST(StaticAsset, ServesTheScriptAndStylesheetOnly) {
  const auto script = staticAsset("gatehouse.js");
  ASSERT_TRUE(script);
  EXPECT_FALSE(script->body.empty());
  EXPECT_TRUE(script->content_type.starts_with("text/javascript"));
  const auto css = staticAsset("gatehouse.css");
  ASSERT_TRUE(css);
  EXPECT_FALSE(css->body.empty());
  EXPECT_TRUE(css->content_type.starts_with("text/css"));
  for (const char* unknown : {"", "token", "TOKEN.JS", "token.js.map", "../token.js", "/token.js",
                              "static/token.js", "index.html"}) {
    EXPECT_FALSE(staticAsset(unknown)) << unknown;
  }
}

TEST(PageCsp, AllowsNoInlineCodeAndNoFraming) {
  const std::string csp(kPageCsp);
  EXPECT_FALSE(contains(csp, "'unsafe-inline'"));
  EXPECT_FALSE(contains(csp, "'unsafe-eval'"));
  EXPECT_FALSE(contains(csp, "*"));
  EXPECT_TRUE(contains(csp, "default-src 'none'"));
  EXPECT_TRUE(contains(csp, "script-src 'self'"));
  EXPECT_TRUE(contains(csp, "style-src 'self'"));
  EXPECT_TRUE(contains(csp, "form-action 'self'"));
  EXPECT_TRUE(contains(csp, "frame-ancestors 'none'"));
}

}  // namespace
}  // namespace gatehouse::ui
