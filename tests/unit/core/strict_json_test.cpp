#include "core/strict_json.hpp"

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

TEST(StrictJson, ParsesNestedDocument) {
  auto v = parseStrictJson(R"({"a":[1,2,{"b":"c"}],"d":null,"e":true,"f":1.5})");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->at("a").at(2).at("b").as_string(), "c");
  EXPECT_EQ(v->at("f").as_double(), 1.5);
}

TEST(StrictJson, RejectsDuplicateMembers) {
  EXPECT_FALSE(parseStrictJson(R"({"alg":"HS256","alg":"none"})"));
  EXPECT_FALSE(parseStrictJson(R"({"x":{"k":1,"k":2}})"));
  EXPECT_TRUE(parseStrictJson(R"({"x":{"k":1},"y":{"k":2}})"));
}

TEST(StrictJson, RejectsEscapedDuplicate) {
  // "\u0061lg" is "alg": names are compared after unescaping.
  EXPECT_FALSE(parseStrictJson(R"({"alg":"HS256","\u0061lg":"none"})"));
}

TEST(StrictJson, RejectsInvalidUtf8) {
  EXPECT_FALSE(parseStrictJson("{\"a\":\"\xc3\x28\"}"));
  EXPECT_FALSE(parseStrictJson("{\"a\":\"\xed\xa0\x80\"}"));  // encoded surrogate
  EXPECT_TRUE(parseStrictJson("{\"a\":\"\xc3\xa9\"}"));
}

TEST(StrictJson, RejectsNonStandardSyntax) {
  EXPECT_FALSE(parseStrictJson(R"({"a":1,})"));
  EXPECT_FALSE(parseStrictJson(R"({"a":1} // c)"));
  EXPECT_FALSE(parseStrictJson(R"({"a":NaN})"));
  EXPECT_FALSE(parseStrictJson(R"({"a":1}{"b":2})"));
  EXPECT_FALSE(parseStrictJson(""));
}

TEST(StrictJson, EnforcesDepthAndSize) {
  EXPECT_FALSE(parseStrictJson(std::string(100, '[') + std::string(100, ']'), {.max_depth = 32}));
  EXPECT_FALSE(parseStrictJson(R"({"a":"0123456789"})", {.max_bytes = 8}));
}

}  // namespace
}  // namespace gatehouse::core

namespace gatehouse::core {
namespace {

TEST(StrictJson, FindsDuplicatesHiddenInsideNesting) {
  EXPECT_FALSE(parseStrictJson(R"({"a":{"x":1},"a":{"y":1,"z":2}})"));
  EXPECT_FALSE(parseStrictJson(R"({"a":{"x":1},"a":1})"));
  EXPECT_FALSE(parseStrictJson(R"({"a":1,"a":{"x":1}})"));
  EXPECT_FALSE(parseStrictJson(R"([{"k":[{"q":1,"q":1}]}])"));
  EXPECT_FALSE(parseStrictJson(R"({"a":[{},{"b":{}}],"c":{"d":{"e":1,"e":2}}})"));
  EXPECT_TRUE(parseStrictJson(R"({"a":[{},{"b":{}}],"c":{"d":{"e":1,"f":2}},"g":[]})"));
  EXPECT_TRUE(parseStrictJson(R"([{"a":1},{"a":1}])"));
}

}  // namespace
}  // namespace gatehouse::core
