// Where the portal may send a browser after sign-in (ui/return_to.hpp): never off-site.
#include "ui/return_to.hpp"

#include <gtest/gtest.h>

namespace gatehouse::ui {
namespace {

const ReturnTo kReturnTo("https://auth.example.com",
                         {"https://app.example.com", "http://127.0.0.1:8081"});

TEST(ReturnTo, OurOwnPathsAndAllowedOriginsPass) {
  EXPECT_EQ(kReturnTo.check("/ui/account"), "/ui/account");
  EXPECT_EQ(kReturnTo.check("/ui/admin?q=a%20b#users"), "/ui/admin?q=a%20b#users");
  EXPECT_EQ(kReturnTo.check("/"), "/");
  EXPECT_EQ(kReturnTo.check("/ui/account/"), "/ui/account/");
  // What follows the path is not a path: slashes and dots there are the application's.
  EXPECT_EQ(kReturnTo.check("/ui/admin?next=//x/./y#/../z"), "/ui/admin?next=//x/./y#/../z");
  EXPECT_EQ(kReturnTo.check("/ui/a.b/..c/..."), "/ui/a.b/..c/...");
  EXPECT_EQ(kReturnTo.check("https://app.example.com?next=//x"),
            "https://app.example.com?next=//x");
  EXPECT_EQ(kReturnTo.check("https://app.example.com/a?b=//c#/../d"),
            "https://app.example.com/a?b=//c#/../d");
  // An allowed application's own paths, as forward-auth was asked for them (a second review).
  EXPECT_EQ(kReturnTo.check("https://app.example.com/files//a"),
            "https://app.example.com/files//a");
  EXPECT_EQ(kReturnTo.check("https://app.example.com/dash?x=1"),
            "https://app.example.com/dash?x=1");
  EXPECT_EQ(kReturnTo.check("HTTPS://APP.example.com/"), "HTTPS://APP.example.com/");
  EXPECT_EQ(kReturnTo.check("https://auth.example.com/ui/account"),
            "https://auth.example.com/ui/account");
  EXPECT_EQ(kReturnTo.check("http://127.0.0.1:8081/"), "http://127.0.0.1:8081/");
}

TEST(ReturnTo, EverythingElseIsRefused) {
  for (const char* bad : {"https://evil.example/",
                          "//evil.example/",
                          "/\\evil.example",
                          "\\\\evil.example",
                          "https://app.example.com.evil.example/",
                          "https://app.example.com@evil.example/",
                          "https://evil.example@app.example.com/",
                          "http://app.example.com/",
                          "https://app.example.com:444/",
                          "http://127.0.0.1:8082/",
                          "javascript:alert(1)",
                          "data:text/html,x",
                          "app.example.com/x",
                          "https:///app.example.com",
                          "https://app.example.com:/x",
                          "https://app.example.com:99999/",
                          "/ui/account\r\nSet-Cookie: x=y",
                          "/ui/\taccount",
                          "https://app.example.com/\x7f",
                          ""}) {
    EXPECT_FALSE(kReturnTo.check(bad)) << bad;
  }
  EXPECT_FALSE(kReturnTo.check("/" + std::string(ReturnTo::kMaxBytes, 'a')));
  // Resolved by a browser, or collapsed by a proxy into a redirect of its own, to "//evil".
  for (const char* bad :
       {"/.//evil.example/", "/%2e//evil.example/", "/%2E%2e//evil.example", "/ui/..//evil.example",
        "/ui//evil.example", "/ui/./account", "/ui/account/..",
        // The same paths of an absolute URL (found by a review).
        "https://auth.example.com//evil.example", "https://auth.example.com/.//evil.example",
        "https://auth.example.com/ui/..//evil.example",
        "https://auth.example.com/%2e//evil.example"}) {
    EXPECT_FALSE(kReturnTo.check(bad)) << bad;
  }
}

TEST(OriginOf, NormalisesSchemeAndHost) {
  EXPECT_EQ(originOf("HTTPS://Auth.Example.com:8443/x?y#z"), "https://auth.example.com:8443");
  EXPECT_EQ(originOf("http://[::1]:8080/"), "http://[::1]:8080");
  EXPECT_EQ(originOf("http://[::1]/"), "http://[::1]");
  EXPECT_FALSE(originOf("ftp://example.com/"));
  EXPECT_FALSE(originOf("/relative"));
  EXPECT_FALSE(originOf("https://user@example.com/"));
  EXPECT_FALSE(originOf("https://:80/"));
  EXPECT_FALSE(originOf("https://a.example;b/"));
  EXPECT_FALSE(originOf("https://a.example'/"));
  EXPECT_FALSE(originOf("https://a.example,b.example"));
}

}  // namespace
}  // namespace gatehouse::ui
