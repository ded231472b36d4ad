#include "auth/validation.hpp"

#include <gtest/gtest.h>

#include "auth/tokens.hpp"

namespace gatehouse::auth {
namespace {

TEST(Validation, Emails) {
  for (const char* good : {"a@example.com", "first.last+tag@sub.example.co.uk", "x@y.io"}) {
    EXPECT_EQ(emailProblem(good), "") << good;
  }
  for (const char* bad :
       {"", "plain", "a@b", "a@@b.com", "@example.com", "a@.com", "a@example.com.",
        "a b@example.com", "a@exa mple.com", ".a@example.com", "a..b@example.com", "a@b..com"}) {
    EXPECT_NE(emailProblem(bad), "") << bad;
  }
  EXPECT_NE(emailProblem(std::string(250, 'a') + "@b.com"), "");
}

TEST(Validation, EmailsWithInvisibleCharactersAreRefused) {
  // U+200B zero width space, U+00AD soft hyphen, U+202E right-to-left override, U+2060 word
  // joiner, U+FEFF, U+00A0, a variation selector, a tag character.
  for (const char* invisible :
       {"\u200B", "\u00AD", "\u202E", "\u2060", "\uFEFF", "\u00A0", "\uFE0F", "\U000E0041"}) {
    const std::string local = std::string("ad") + invisible + "min@example.com";
    EXPECT_NE(emailProblem(local), "") << local;
    const std::string domain = std::string("admin@exam") + invisible + "ple.com";
    EXPECT_NE(emailProblem(domain), "") << domain;
  }
  EXPECT_EQ(emailProblem("j\u00F6rg@example.com"), "");  // visible non-ASCII stays allowed
  EXPECT_NE(emailProblem("a\xC0\xAF@example.com"), "");  // overlong UTF-8
  EXPECT_NE(emailProblem("a\xFF@example.com"), "");
}

// Encoded words in an address (the "email splitting" of RFC 2047-decoding mail systems) are
// refused, in the local part or the domain; '=' and '?' alone stay allowed.
TEST(Validation, EmailsWithEncodedWordsAreRefused) {
  for (const char* bad : {"=?utf-8?q?a?=@example.com", "x=?utf-7?b?QEA?=@example.com",
                          "user@=?utf-8?q?evil.example?=.com"}) {
    EXPECT_EQ(emailProblem(bad), "value is not a valid email address: an encoded word (=?...?=)")
        << bad;
  }
  EXPECT_EQ(emailProblem("a=b?c@example.com"), "");
  EXPECT_EQ(emailProblem("a=?b@example.com"), "");  // an opening alone is no encoded word
}

// Source routes in the local part, which a relay may still follow to another mailbox (found by
// an outside attack); the other specials of a dot-atom stay allowed.
TEST(Validation, EmailsWithSourceRoutesAreRefused) {
  for (const char* bad : {"victim%evil.example@example.com", "evil.example!victim@example.com",
                          "%@example.com", "a!@example.com"}) {
    EXPECT_EQ(emailProblem(bad),
              "value is not a valid email address: '%' and '!' route mail to another mailbox")
        << bad;
  }
  EXPECT_EQ(emailProblem("a+b#c$d&e'f*g=h?i^j_k`l{m|n}o~p-q/r@example.com"), "");
}

// The domain of the placeholders of external sign-ins without a verified address: nobody may
// take one first. Other .invalid addresses (an operator's service account) stay allowed.
TEST(Validation, AddressesInThePlaceholdersDomainAreRefused) {
  for (const std::string& bad :
       {placeholderAddress("future-sub", "pa"), std::string("x@a.oidc.invalid"),
        std::string("FUTURE-SUB@PA.OIDC.INVALID"), std::string("x@pa.Oidc.Invalid")}) {
    EXPECT_EQ(emailProblem(bad),
              "value is not a valid email address: a domain kept for external sign-in")
        << bad;
  }
  for (const char* good : {"x@example.invalid", "x@oidc.invalid.example.com", "x@aoidc.invalids"})
    EXPECT_EQ(emailProblem(good), "") << good;
}

TEST(Validation, Usernames) {
  EXPECT_EQ(usernameProblem("abc"), "");
  EXPECT_EQ(usernameProblem("A-b_c.9"), "");
  EXPECT_NE(usernameProblem("ab"), "");
  EXPECT_NE(usernameProblem(std::string(33, 'a')), "");
  EXPECT_NE(usernameProblem("bad name"), "");
  EXPECT_NE(usernameProblem("ünï"), "");
}

TEST(Validation, PasswordRulesAreEachNamed) {
  const config::PasswordRules rules;
  EXPECT_TRUE(passwordProblems("Passw0rd!", rules).empty());
  const auto all = passwordProblems("", rules);
  EXPECT_EQ(all.size(), 5U);
  const auto some = passwordProblems("password", rules);
  ASSERT_EQ(some.size(), 3U);
  EXPECT_EQ(some[0], "Password must contain an uppercase letter");
  EXPECT_EQ(some[1], "Password must contain a digit");
  EXPECT_EQ(some[2], "Password must contain a special character");
  config::PasswordRules lax{.min_length = 4,
                            .require_uppercase = false,
                            .require_lowercase = false,
                            .require_digit = false,
                            .require_special = false};
  EXPECT_TRUE(passwordProblems("abcd", lax).empty());
  // Length counts characters, not bytes.
  EXPECT_FALSE(passwordProblems("ééé", lax).empty());
  EXPECT_TRUE(passwordProblems("éééé", lax).empty());
  EXPECT_EQ(passwordProblems("abc\xff", lax),
            std::vector<std::string>{"Password must be valid UTF-8"});
}

TEST(TokenService, IssuesVerifiableAccessAndRefreshTokens) {
  core::ManualClock clock(1'800'000'000);
  const auto key = jose::Key::hmac(jose::Algorithm::Hs256, std::string(32, 'k'), "hs1").value();
  TokenService tokens(key, jose::KeySet::create({key}).value(), {.audience = "api"}, clock);
  auto pair = tokens.issue(7, {"users:read"}, "sid", "rjti");
  ASSERT_TRUE(pair);
  auto access = tokens.verifyAccess(pair->access_token);
  ASSERT_TRUE(access);
  EXPECT_EQ(access->sub, "7");
  EXPECT_EQ(access->scopes, std::vector<std::string>{"users:read"});
  EXPECT_EQ(access->raw.at("aud").as_string(), "api");
  EXPECT_FALSE(tokens.verifyRefresh(pair->access_token));
  auto refresh = tokens.verifyRefresh(pair->refresh_token);
  ASSERT_TRUE(refresh);
  EXPECT_EQ(refresh->jti, "rjti");
  EXPECT_EQ(refresh->raw.at("sid").as_string(), "sid");
  EXPECT_FALSE(tokens.verifyAccess(pair->refresh_token));
  clock.advance(1800);
  EXPECT_FALSE(tokens.verifyAccess(pair->access_token));
  EXPECT_TRUE(tokens.verifyRefresh(pair->refresh_token));
}

}  // namespace
}  // namespace gatehouse::auth
