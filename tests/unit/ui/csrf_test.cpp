// The forms' CSRF tokens and the cross-site check (ui/csrf.hpp).
#include "ui/csrf.hpp"

#include <gtest/gtest.h>

namespace gatehouse::ui {
namespace {

const Csrf kCsrf(std::string(32, 'c'));

TEST(Csrf, ATokenChecksOnlyForItsBindingAndPurpose) {
  const std::string token = kCsrf.tokenFor("session", "sid-1");
  ASSERT_FALSE(token.empty());
  EXPECT_TRUE(kCsrf.check("session", "sid-1", token));
  EXPECT_FALSE(kCsrf.check("session", "sid-2", token));
  EXPECT_FALSE(kCsrf.check("anon", "sid-1", token));
  EXPECT_FALSE(kCsrf.check("session", "sid-1", token.substr(1)));
  EXPECT_FALSE(kCsrf.check("session", "sid-1", ""));
  // Another key (another deployment) makes other tokens.
  EXPECT_FALSE(Csrf(std::string(32, 'd')).check("session", "sid-1", token));
}

TEST(Csrf, NoBindingNoToken) {
  EXPECT_FALSE(kCsrf.check("anon", "", kCsrf.tokenFor("anon", "")));
  const std::string long_binding(Csrf::kMaxBindingBytes + 1, 'b');
  EXPECT_FALSE(kCsrf.check("anon", long_binding, kCsrf.tokenFor("anon", long_binding)));
}

TEST(Csrf, FreshBindingsDiffer) {
  const auto a = Csrf::newBinding();
  const auto b = Csrf::newBinding();
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_GE(a->size(), 40U);
}

TEST(CrossSite, FetchMetadataDecidesWhenPresent) {
  const std::string own = "https://auth.example.com";
  EXPECT_FALSE(crossSite(std::nullopt, "same-origin", own));
  // "none" (a request the user started, such as a reload posting the form again) is taken with
  // our Origin or none; with another (no browser sends that pair) it is cross-site.
  EXPECT_FALSE(crossSite(std::nullopt, "none", own));
  EXPECT_FALSE(crossSite(own, "none", own));
  EXPECT_TRUE(crossSite("https://evil.example", "none", own));
  EXPECT_TRUE(crossSite("null", "none", own));
  EXPECT_TRUE(crossSite(std::nullopt, "same-site", own));  // a sibling subdomain is not us
  EXPECT_TRUE(crossSite(std::nullopt, "cross-site", own));
  // Fetch metadata wins over an Origin that a no-referrer policy made "null".
  EXPECT_FALSE(crossSite("null", "same-origin", own));
}

TEST(CrossSite, OtherwiseTheOriginMustBeOurs) {
  const std::string own = "https://auth.example.com";
  EXPECT_FALSE(crossSite(own, std::nullopt, own));
  EXPECT_TRUE(crossSite("https://evil.example", std::nullopt, own));
  EXPECT_TRUE(crossSite("https://auth.example.com:8443", std::nullopt, own));
  EXPECT_TRUE(crossSite("null", std::nullopt, own));
  EXPECT_FALSE(crossSite(std::nullopt, std::nullopt, own));  // no browser header at all
}

}  // namespace
}  // namespace gatehouse::ui
