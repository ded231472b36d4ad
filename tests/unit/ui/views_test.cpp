// The pages' views (ui/views.hpp) and the chart: every view renders, escapes what it is given,
// labels its fields, and holds nothing the pages' CSP would block.
#include "ui/views.hpp"

#include <gtest/gtest.h>

#include "support/html_checks.hpp"
#include "ui/chart.hpp"
#include "ui/pages.hpp"

namespace gatehouse::ui {
namespace {

using testing::expectNoInlineCode;
namespace json = boost::json;

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Views, EveryViewRendersWithHostileValuesEscapedAndNoInlineCode) {
  const std::string evil = "<script>alert(1)</script>\"'";
  const json::object when{{"iso", evil}, {"text", evil}};
  const json::object data{
      {"brand", evil},
      {"title", evil},
      {"notice", evil},
      {"error", evil},
      {"csrf", evil},
      {"viewer", json::object{{"username", evil}, {"console", true}, {"csrf", evil}}},
      {"username", evil},
      {"email", evil},
      {"user", json::object{{"id", 7}, {"username", evil}, {"email", evil}, {"created", when}}},
      {"factors", json::array{json::object{
                      {"id", 1}, {"name", evil}, {"created", when}, {"last_used", nullptr}}}},
      {"sessions", json::array{json::object{{"id", evil},
                                            {"user_agent", evil},
                                            {"ip", evil},
                                            {"created", when},
                                            {"last_used", when},
                                            {"current", true}}}},
      {"keys", json::array{json::object{{"id", 2},
                                        {"name", evil},
                                        {"prefix", evil},
                                        {"created", when},
                                        {"expires", nullptr},
                                        {"last_used", nullptr}}}},
      {"permissions", json::array{evil}},
      {"identities", json::array{json::object{
                         {"id", 3}, {"provider", evil}, {"email", evil}, {"created", when}}}},
      {"providers", json::array{json::object{{"name", evil}, {"label", evil}, {"href", evil}}}},
      {"codes", json::array{evil}},
      {"key", evil},
      {"secret", evil},
      {"users", json::object{{"error", ""},
                             {"q", evil},
                             {"rows", json::array{json::object{{"id", 4}, {"email", evil}}}}}},
      {"rows", json::array{json::object{{"time", when}, {"type", evil}, {"detail", evil}}}},
      {"roles", json::array{json::object{{"name", evil}, {"selected", true}}}},
      {"reachable", true},
      {"can_role", true}};
  const auto names = viewNames();
  ASSERT_GE(names.size(), 14U);
  for (const auto name : names) {
    if (name == "chart") continue;  // a fragment, below
    const std::string page = view(name, data);
    EXPECT_FALSE(contains(page, "<script>alert")) << name;
    EXPECT_TRUE(contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;")) << name;
    EXPECT_TRUE(contains(page, "<script src=\"/ui/static/gatehouse.js\" defer></script>")) << name;
    expectNoInlineCode(page);
  }
}

TEST(Views, EveryFieldHasItsLabelAndEveryPostFormItsToken) {
  const json::object data{{"brand", "B"},
                          {"title", "T"},
                          {"csrf", "TOKEN"},
                          {"reachable", true},
                          {"can_role", true},
                          {"user", json::object{{"id", 1}}},
                          {"viewer", json::object{{"username", "u"}, {"csrf", "TOKEN"}}}};
  for (const auto name : viewNames()) {
    if (name == "chart") continue;
    const std::string page = view(name, data);
    // Each visible input's id is named by a <label for>.
    for (std::size_t at = page.find("<input id=\""); at != std::string::npos;
         at = page.find("<input id=\"", at + 1)) {
      const auto start = at + 11;
      const std::string id = page.substr(start, page.find('"', start) - start);
      EXPECT_TRUE(contains(page, "<label for=\"" + id + "\">")) << name << ": " << id;
    }
    std::size_t forms = 0;
    std::size_t tokens = 0;
    for (std::size_t at = page.find("method=\"post\""); at != std::string::npos;
         at = page.find("method=\"post\"", at + 1))
      ++forms;
    for (std::size_t at = page.find("name=\"csrf\" value=\"TOKEN\""); at != std::string::npos;
         at = page.find("name=\"csrf\" value=\"TOKEN\"", at + 1))
      ++tokens;
    EXPECT_EQ(forms, tokens) << name;
  }
}

TEST(Views, TheLayoutShowsTheViewersLinksOnlyToThem) {
  const std::string signed_in =
      view("message",
           {{"brand", "B"},
            {"title", "T"},
            {"viewer", json::object{{"username", "ann"}, {"console", false}, {"csrf", "t"}}}});
  EXPECT_TRUE(contains(signed_in, ">ann</a>"));
  EXPECT_TRUE(contains(signed_in, "action=\"/ui/logout\""));
  EXPECT_FALSE(contains(signed_in, "href=\"/ui/admin\""));
  const std::string console = view(
      "message", {{"brand", "B"},
                  {"title", "T"},
                  {"viewer", json::object{{"username", "ann"}, {"console", true}, {"csrf", "t"}}}});
  EXPECT_TRUE(contains(console, "href=\"/ui/admin\""));
  EXPECT_FALSE(contains(view("message", {{"brand", "B"}, {"title", "T"}}), "/ui/logout"));
  EXPECT_THROW(view("nonsense", {}), std::logic_error);
}

TEST(Chart, BarsScaleToTheLargestValueAndLabelsAreEscaped) {
  const std::string svg = barChart("Per <day>", {{"2026-12-01", 2}, {"2026-12-02", 4}});
  EXPECT_TRUE(contains(svg, "<title id=\"chart-title\">Per &lt;day&gt;</title>"));
  EXPECT_TRUE(contains(svg, "role=\"img\""));
  EXPECT_TRUE(contains(svg, "2026-12-01: 2"));
  // The largest bar fills the plot's height (126 units), the other half of it.
  EXPECT_TRUE(contains(svg, "height=\"126\""));
  EXPECT_TRUE(contains(svg, "height=\"63\""));
  expectNoInlineCode(svg);
  EXPECT_FALSE(contains(barChart("Empty", {}), "<rect"));
}

TEST(PageCsp, FormsMayLeadOnlyHereAndToTheAllowedReturnOrigins) {
  EXPECT_EQ(pageCsp({}), std::string(kPageCsp));
  const std::string csp = pageCsp({"https://app.example.com", "http://127.0.0.1:8081"});
  EXPECT_TRUE(
      contains(csp, "form-action 'self' https://app.example.com http://127.0.0.1:8081; base-uri"))
      << csp;
  EXPECT_FALSE(contains(csp, "unsafe"));
}

TEST(BrandStylesheet, CarriesTheColoursAndTheOperatorsCss) {
  const std::string css = brandStylesheet({"#123456", "#abc"}, ".brand { font-weight: 400; }");
  EXPECT_TRUE(contains(css, "--primary: #123456"));
  EXPECT_TRUE(contains(css, "--background: #abc"));
  EXPECT_TRUE(contains(css, ".brand { font-weight: 400; }"));
}

}  // namespace
}  // namespace gatehouse::ui
