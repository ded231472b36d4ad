#include "op/uris.hpp"

#include <gtest/gtest.h>

#include "op/errors.hpp"
#include "op/op_tokens.hpp"
#include "op/provider.hpp"

namespace gatehouse::op {
namespace {

TEST(RedirectUris, AcceptsHttpsLoopbackHttpAndReverseDomainSchemes) {
  EXPECT_EQ(redirectUriProblem("https://app.example.com/cb?x=1"), std::nullopt);
  EXPECT_EQ(redirectUriProblem("http://localhost:3000/cb"), std::nullopt);
  EXPECT_EQ(redirectUriProblem("http://127.0.0.1/cb"), std::nullopt);
  EXPECT_EQ(redirectUriProblem("http://[::1]:8080/cb"), std::nullopt);
  EXPECT_EQ(redirectUriProblem("com.example.app:/oauth2redirect"), std::nullopt);
}

TEST(RedirectUris, RefusesWhatCouldRedirectElsewhere) {
  for (const char* uri :
       {"", "/relative", "//evil.example/cb", "http://app.example.com/cb",
        "https://app.example.com/cb#frag", "https://user@app.example.com/cb",
        "https://app.example.com/c b", "https://app.example.com\\@evil/cb", "javascript:alert(1)",
        "HTTPS://app.example.com/cb", "https://APP.example.com/cb", "https:///cb",
        "http://localhost.evil.example/cb", "data:text/html,x", "myapp:/cb",
        // Found by op_uri_fuzz: an authority no origin parser agrees on.
        "https://app.s://app.com/cb?x=1", "https://app.example.com:x/cb",
        // Found by the outside review: out-of-range ports, stray brackets, non-ASCII bytes.
        "https://a.example:99999/cb", "https://[::1/cb", "https://a]b.example/cb",
        "https://a.example/cb\xe2\x80\xa8",
        // Found by an outside attack: a private-use scheme's authority skipped every check, and a
        // registered query holding what an answer adds made answers carry it twice (libraries
        // read the first, the registered one).
        "com.example.app://user:pw@evil.example/cb", "com.example.app://evil.example@x/cb",
        "https://a.example/cb?state=fixed&code=fixed", "https://a.example/cb?x=1&code=c",
        "https://a.example/cb?iss=https://evil", "https://a.example/cb?error=x",
        "https://a.example/cb?c%6Fde=c", "https://a.example/cb?error_description",
        "com.example.app:/cb?state=s"}) {
    EXPECT_NE(redirectUriProblem(uri), std::nullopt) << uri;
  }
  // Other parameters, and names that only begin like one, are the client's own.
  for (const char* uri : {"https://a.example/cb?codes=1&stated=2&x=code",
                          "com.example.app://cb.example/cb", "https://a.example/cb?%zz=1"})
    EXPECT_EQ(redirectUriProblem(uri), std::nullopt) << uri;
  EXPECT_NE(redirectUriProblem("https://a.example/" + std::string(1100, 'x')), std::nullopt);
}

// RFC 8252 §7.3: a native app listens on a port the system gives it; an outside test's relying
// party on an ephemeral port was refused. Only loopback IP literals over http match at any port.
TEST(RedirectUris, ALoopbackIpLiteralMatchesAtAnyPortAndNothingElseDoes) {
  const std::vector<std::string> registered{
      "http://127.0.0.1:5000/cb", "http://[::1]/cb?x=1", "http://localhost:5000/cb",
      "https://app.example.com:8443/cb", "com.example.app:/cb"};
  for (const char* asked :
       {"http://127.0.0.1:5000/cb", "http://127.0.0.1:49152/cb", "http://127.0.0.1/cb",
        "http://[::1]:1/cb?x=1", "http://[::1]:65535/cb?x=1", "http://localhost:5000/cb",
        "https://app.example.com:8443/cb", "com.example.app:/cb"})
    EXPECT_TRUE(redirectUriRegistered(registered, asked)) << asked;
  for (const char* asked :
       {"http://127.0.0.1:5000/cb2", "http://127.0.0.1:5000/cb/", "http://127.0.0.1:5000/CB",
        "http://127.0.0.1:0/cb", "http://127.0.0.1:05000/cb", "http://127.0.0.1:65536/cb",
        "http://127.0.0.1:123456/cb", "http://127.0.0.1:/cb", "http://127.0.0.1:5000@evil/cb",
        "http://127.0.0.1.evil.example:5000/cb", "http://127.0.0.2:5000/cb",
        "https://127.0.0.1:5000/cb", "http://[::1]:80/cb", "http://[::1]:80/cb?x=2",
        "http://localhost:5001/cb", "https://app.example.com:8444/cb", "https://app.example.com/cb",
        "com.example.app:/cb2"})
    EXPECT_FALSE(redirectUriRegistered(registered, asked)) << asked;
}

TEST(RedirectUris, QueryParametersAreAppendedEncoded) {
  EXPECT_EQ(withQuery("https://a.example/cb", {{"code", "a b&c"}, {"state", "s=1"}}),
            "https://a.example/cb?code=a%20b%26c&state=s%3D1");
  EXPECT_EQ(withQuery("https://a.example/cb?x=1", {{"code", "c"}, {"state", ""}}),
            "https://a.example/cb?x=1&code=c");
}

TEST(FormAction, IsTheOriginOrThePrivateScheme) {
  EXPECT_EQ(formActionSource("https://app.example.com:8443/cb?x"), "https://app.example.com:8443");
  EXPECT_EQ(formActionSource("com.example.app:/cb"), "com.example.app:");
  EXPECT_EQ(formActionSource("javascript:alert(1)"), "");
}

TEST(IdToken, AtHashIsTheLeftHalfOfSha256) {
  // OpenID Connect Core 1.0, Appendix A.3.
  EXPECT_EQ(atHash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
}

TEST(IdToken, AcrNamesASecondFactor) {
  EXPECT_EQ(acrOf({"pwd"}), "1");
  EXPECT_EQ(acrOf({"pwd", "otp"}), "2");
  EXPECT_EQ(acrOf({"pwd", "rc"}), "1");
}

TEST(Errors, HaveTheProtocolsNames) {
  EXPECT_EQ(errorName(OpErrc::InvalidGrant), "invalid_grant");
  EXPECT_EQ(errorName(OpErrc::RequestNotSupported), "request_not_supported");
  EXPECT_EQ(errorName(OpErrc::LoginRequired), "login_required");
  EXPECT_EQ(errorName(OpErrc::InvalidClient), "invalid_client");
}

TEST(UserClaims, FollowTheScopes) {
  store::User u;
  u.email = "a@example.com";
  u.username = "alice";
  u.email_verified = true;
  EXPECT_TRUE(userClaims(u, {"openid"}).empty());
  auto email = userClaims(u, {"openid", "email"});
  EXPECT_EQ(email.at("email").as_string(), "a@example.com");
  EXPECT_TRUE(email.at("email_verified").as_bool());
  EXPECT_FALSE(email.contains("preferred_username"));
  auto profile = userClaims(u, {"profile"});
  EXPECT_EQ(profile.at("preferred_username").as_string(), "alice");
  EXPECT_FALSE(profile.contains("email"));
}

}  // namespace
}  // namespace gatehouse::op
