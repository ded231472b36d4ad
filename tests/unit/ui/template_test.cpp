// The pages' template language (ui/template.hpp): escaping by default, sections, and malformed
// templates refused when parsed.
#include "ui/template.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace gatehouse::ui {
namespace {

std::string render(std::string_view text, std::string_view data) {
  auto t = Template::parse(text);
  EXPECT_TRUE(t) << (t ? "" : t.error().message);
  if (!t) return "";
  return t->render(boost::json::parse(data).as_object());
}

TEST(Template, EscapesByDefaultAndOnlyTripleBracesDoNot) {
  EXPECT_EQ(render("<p>{{a}}</p>", R"({"a": "<b>\"x\" & 'y'</b>"})"),
            "<p>&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;</p>");
  EXPECT_EQ(render("{{{a}}}", R"({"a": "<b>x</b>"})"), "<b>x</b>");
  EXPECT_EQ(render("[{{missing}}]", "{}"), "[]");
  EXPECT_EQ(render("{{n}} {{t}} {{f}} {{z}}", R"({"n": 42, "t": true, "f": false, "z": null})"),
            "42 true false ");
  EXPECT_EQ(render("{{d}}", R"({"d": 0.5})"), "0.5");
  // A value holding tags is text, never expanded.
  EXPECT_EQ(render("{{a}}", R"({"a": "{{b}}", "b": "no"})"), "{{b}}");
  EXPECT_EQ(render("{{ spaced }}", R"({"spaced": "ok"})"), "ok");
}

TEST(Template, DottedNamesDescendIntoObjectsAndLists) {
  EXPECT_EQ(render("{{u.name}}", R"({"u": {"name": "ann"}})"), "ann");
  EXPECT_EQ(render("{{#l.0}}first: {{v}}{{/l.0}}", R"({"l": [{"v": 1}, {"v": 2}]})"), "first: 1");
  EXPECT_EQ(render("{{#l.0}}x{{/l.0}}", R"({"l": []})"), "");
  EXPECT_EQ(render("{{u.missing.deeper}}", R"({"u": {}})"), "");
}

TEST(Template, SectionsLoopOverListsAndTestTheRest) {
  EXPECT_EQ(render("{{#l}}<{{.}}>{{/l}}", R"({"l": ["a", "<b>"]})"), "<a><&lt;b&gt;>");
  EXPECT_EQ(render("{{#l}}{{n}}-{{outer}};{{/l}}", R"({"l": [{"n": 1}, {"n": 2}], "outer": "o"})"),
            "1-o;2-o;");
  for (const char* falsy :
       {R"({"x": false})", R"({"x": null})", R"({"x": ""})", R"({"x": []})", "{}"}) {
    EXPECT_EQ(render("{{#x}}yes{{/x}}{{^x}}no{{/x}}", falsy), "no") << falsy;
  }
  for (const char* truthy : {R"({"x": true})", R"({"x": "s"})", R"({"x": {}})", R"({"x": 0})"}) {
    EXPECT_EQ(render("{{#x}}yes{{/x}}{{^x}}no{{/x}}", truthy), "yes") << truthy;
  }
  // An item's own null hides an outer value of the same name.
  EXPECT_EQ(render("{{#l}}[{{v}}]{{/l}}", R"({"v": "outer", "l": [{"v": null}, {}]})"),
            "[][outer]");
}

TEST(Template, MalformedTemplatesAreRefusedWhenParsed) {
  for (const char* bad :
       {"{{a", "{{{a}}", "{{#a}}x", "x{{/a}}", "{{#a}}{{/b}}", "{{}}", "{{#a}}{{#b}}{{/a}}{{/b}}",
        "a{{/}}b", "{{#}}x{{/}}", "{{{}}}", "{{{#x}}}", "{{!comment}}", "{{> partial}}", "{{&x}}",
        "{{=<% %>=}}", "{{a b}}"}) {
    EXPECT_FALSE(Template::parse(bad)) << bad;
  }
  EXPECT_TRUE(Template::parse("plain text, no tags"));
}

}  // namespace
}  // namespace gatehouse::ui
