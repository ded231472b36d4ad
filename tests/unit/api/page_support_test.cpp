// The pages' request helpers (api/page_support.hpp) that read what a browser sends.
#include "api/page_support.hpp"

#include <gtest/gtest.h>

namespace gatehouse::api::pages {
namespace {

http::Request withCookies(std::vector<std::string> headers) {
  http::Request r;
  for (auto& h : headers) r.headers.emplace_back("Cookie", std::move(h));
  return r;
}

TEST(PageCookies, ReadsTheNamedCookieExactly) {
  const auto r = withCookies({"a=1; gatehouse_session=abc; not_gatehouse_session=x"});
  EXPECT_EQ(cookie(r, "gatehouse_session"), "abc");
  EXPECT_EQ(cookie(r, "a"), "1");
  EXPECT_EQ(cookie(r, "not_gatehouse_session"), "x");
  EXPECT_FALSE(cookie(r, "gatehouse"));
  EXPECT_FALSE(cookie(r, "session"));
}

// Found by an outside attack: the first of two was taken, and a sibling subdomain's planted
// cookie (sent first for its longer Path) became the victim's sign-in.
TEST(PageCookies, TwoValuesAreNoOnesAndEveryCookieHeaderIsRead) {
  const auto r = withCookies({"x=1", "gatehouse_session=first; gatehouse_session=second"});
  EXPECT_EQ(cookie(r, "gatehouse_session"), "");
  EXPECT_TRUE(cookieSentTwice(r, "gatehouse_session"));
  EXPECT_EQ(cookie(r, "x"), "1");
  EXPECT_FALSE(cookieSentTwice(r, "x"));
  const auto apart = withCookies({"gatehouse_session=first", "gatehouse_session=second"});
  EXPECT_EQ(cookie(apart, "gatehouse_session"), "");
  std::string many;
  for (int i = 0; i < 40; ++i) many += "gatehouse_session=planted; ";
  EXPECT_EQ(cookie(withCookies({many + "gatehouse_session=ours"}), "gatehouse_session"), "");
  const auto same = withCookies({"gatehouse_session=one; gatehouse_session=one"});
  EXPECT_EQ(cookie(same, "gatehouse_session"), "one");
  EXPECT_FALSE(cookieSentTwice(same, "gatehouse_session"));
  http::Request lower;
  lower.headers.emplace_back("cookie", "k=v");
  EXPECT_EQ(cookie(lower, "k"), "v");
}

TEST(PageCookies, EmptyValuesAndOddSpacing) {
  const auto r = withCookies({"  a=; b=2 ;c"});
  EXPECT_EQ(cookie(r, "a"), "");
  EXPECT_EQ(cookie(r, "b"), "2");
  EXPECT_FALSE(cookie(r, "c"));
  EXPECT_FALSE(cookie(withCookies({}), "a"));
}

TEST(PageTimes, ReadableWithAMachineForm) {
  const auto t = when(1'764'634'980);
  EXPECT_EQ(t.at("iso").as_string(), "2025-12-02T00:23:00Z");
  EXPECT_EQ(t.at("text").as_string(), "2025-12-02 00:23 UTC");
}

}  // namespace
}  // namespace gatehouse::api::pages
