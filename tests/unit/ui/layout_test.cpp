// The pages' pieces (ui/layout.hpp, ui/chart.hpp): every text escaped, labelled fields, nothing
// the pages' CSP would block.
#include "ui/layout.hpp"

#include <gtest/gtest.h>

#include "support/html_checks.hpp"
#include "ui/chart.hpp"
#include "ui/pages.hpp"

namespace gatehouse::ui {
namespace {

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

using testing::expectNoInlineCode;

TEST(Layout, APageForAViewerHasTheirLinksAndASignOutFormWithItsToken) {
  const Viewer viewer{"<alice>", true, "tok&en"};
  const std::string html = page("Brand", "Title", "<p>body</p>", &viewer);
  EXPECT_TRUE(contains(html, "&lt;alice&gt;"));
  EXPECT_FALSE(contains(html, "<alice>"));
  EXPECT_TRUE(contains(html, "href=\"/ui/admin\""));
  EXPECT_TRUE(contains(html, "action=\"/ui/logout\""));
  EXPECT_TRUE(contains(html, "name=\"csrf\" value=\"tok&amp;en\""));
  EXPECT_TRUE(contains(html, "<p>body</p>"));
  EXPECT_TRUE(contains(html, "/ui/static/brand.css"));
  EXPECT_TRUE(contains(html, "name=\"viewport\""));
  expectNoInlineCode(html);
  const Viewer plain{"bob", false, "t"};
  EXPECT_FALSE(contains(page("Brand", "Title", "", &plain), "/ui/admin"));
  EXPECT_FALSE(contains(page("Brand", "Title", ""), "/ui/logout"));
}

TEST(Layout, FieldsAreLabelledAndEscaped) {
  const std::string html = field({"E\"mail", "email", "email", "email", true, "a\"><script>"});
  EXPECT_TRUE(contains(html, "<label for=\"email\">E&quot;mail</label>"));
  EXPECT_TRUE(contains(html, "id=\"email\" name=\"email\""));
  EXPECT_TRUE(contains(html, "value=\"a&quot;&gt;&lt;script&gt;\""));
  EXPECT_TRUE(contains(html, " required"));
  EXPECT_FALSE(contains(field({"x", "x", "text", "off", false}), " required"));
}

TEST(Layout, EveryFormCarriesItsCsrfToken) {
  EXPECT_TRUE(contains(formStart("/ui/x", "x-form", "T"), "name=\"csrf\" value=\"T\""));
  const std::string one = buttonForm("/ui/y", "y", "T", "Go", {{"is_active", "false"}});
  EXPECT_TRUE(contains(one, "name=\"csrf\" value=\"T\""));
  EXPECT_TRUE(contains(one, "name=\"is_active\" value=\"false\""));
  EXPECT_TRUE(contains(one, "method=\"post\""));
  EXPECT_FALSE(contains(one, "aria-label"));
  const std::string labelled = buttonForm("/ui/z", "z", "T", "Revoke", {}, "danger", "Revoke <ci>");
  EXPECT_TRUE(contains(labelled, "aria-label=\"Revoke &lt;ci&gt;\">Revoke</button>"));
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
  EXPECT_TRUE(contains(csp, "script-src 'self';"));
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
