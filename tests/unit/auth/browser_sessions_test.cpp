// The pages' browser sessions (auth/browser_sessions.hpp) on the real service graph: what a
// cookie carries, that it cannot be forged, and that an ended session's cookie is refused even
// after the revocation list has forgotten the session.
#include "auth/browser_sessions.hpp"

#include <gtest/gtest.h>

#include "auth/claims.hpp"
#include "core/base64url.hpp"
#include "support/auth_stack.hpp"

namespace gatehouse::auth {
namespace {

constexpr const char* kPassword = "Passw0rd!x";
constexpr std::int64_t kRecheck = 60;

class BrowserSessionsTest : public ::testing::Test {
 protected:
  BrowserSessionsTest() {
    EXPECT_TRUE(stack_.passwords.registerUser({"bs@example.com", "bsuser", kPassword}, client_));
  }
  SignedIn signedIn() {
    auto who = stack_.passwords.login("bsuser", kPassword, std::nullopt, client_);
    EXPECT_TRUE(who) << (who ? "" : who.error().detail);
    return *who;
  }
  BrowserSessions::Started started() {
    auto s = browser_.start(signedIn(), client_);
    EXPECT_TRUE(s) << (s ? "" : s.error().detail);
    return *s;
  }
  Errc refusal(std::string_view cookie, core::Wait wait = core::Wait::Yes) {
    auto who = browser_.authenticate(cookie, wait);
    return who ? Errc::Internal : who.error().code;  // Internal: "accepted" here
  }

  // Browser sessions sealed under `key`.
  BrowserSessions::Deps deps(char key) {
    return {
        *stack_.store, stack_.sessions,    stack_.token_check,
        stack_.policy, stack_.revocations, stack_.session_end,
        stack_.audit,  stack_.clock,       {std::string(32, key), std::chrono::seconds(kRecheck)}};
  }

  gatehouse::testing::AuthStack stack_{"browser"};
  ClientInfo client_{"127.0.0.1", "a browser", "req"};
  BrowserSessions browser_{deps('k')};
};

TEST_F(BrowserSessionsTest, TheCookieCarriesTheSessionTheUserAndHowTheySignedIn) {
  const auto s = started();
  auto who = browser_.authenticate(s.cookie);
  ASSERT_TRUE(who) << who.error().detail;
  EXPECT_EQ(who->user->username, "bsuser");
  EXPECT_EQ(sessionOf(who->claims()), s.session_id);
  EXPECT_EQ(amrOf(who->claims()), std::vector<std::string>{"pwd"});
  EXPECT_EQ(authTimeOf(who->claims()), stack_.clock.unixSeconds());
  EXPECT_TRUE(BrowserSessions::isBrowserSession(who->claims()));
  EXPECT_FALSE(who->permissions.empty());
  // Listed like any other session.
  auto listed = stack_.sessions.list(*who);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ((*listed)[0].id, s.session_id);
  EXPECT_EQ((*listed)[0].user_agent, "a browser");
}

TEST_F(BrowserSessionsTest, TheCookieIsOpaqueAndCannotBeAltered) {
  const auto s = started();
  EXPECT_EQ(s.cookie.find(s.session_id), std::string::npos);
  EXPECT_EQ(s.cookie.find("bsuser"), std::string::npos);
  for (const std::size_t at : {std::size_t{0}, s.cookie.size() / 2, s.cookie.size() - 1}) {
    std::string altered = s.cookie;
    altered[at] = altered[at] == 'A' ? 'B' : 'A';
    EXPECT_EQ(refusal(altered), Errc::InvalidToken) << at;
  }
  EXPECT_EQ(refusal(s.cookie.substr(0, s.cookie.size() - 4)), Errc::InvalidToken);
  EXPECT_EQ(refusal(""), Errc::InvalidToken);
  EXPECT_EQ(refusal(std::string(BrowserSessions::kMaxCookieBytes + 1, 'A')), Errc::InvalidToken);
  EXPECT_EQ(refusal("not base64url!"), Errc::InvalidToken);
  // Sealed under another key (another deployment): refused.
  BrowserSessions other{deps('x')};
  auto theirs = other.start(signedIn(), client_);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(refusal(theirs->cookie), Errc::InvalidToken);
}

TEST_F(BrowserSessionsTest, SigningOutEndsTheSessionAtOnce) {
  const auto s = started();
  auto who = browser_.authenticate(s.cookie);
  ASSERT_TRUE(who);
  ASSERT_TRUE(browser_.end(*who, client_));
  EXPECT_EQ(refusal(s.cookie), Errc::InvalidToken);
  auto row = stack_.store->sessions().find(s.session_id);
  ASSERT_TRUE(row && *row);
  EXPECT_TRUE((*row)->revoked);
}

TEST_F(BrowserSessionsTest, AnEndedSessionStaysRefusedAfterTheRevocationListForgetsIt) {
  const auto ended = started();
  const auto kept = started();
  auto who = browser_.authenticate(ended.cookie);
  ASSERT_TRUE(who);
  ASSERT_TRUE(stack_.sessions.end(*who, ended.session_id, client_));
  // Long after: the revocation list holds ended sessions only an access-token lifetime.
  stack_.clock.advance(stack_.tokens.settings().access_ttl.count() + 10 * kRecheck);
  stack_.revocations.purge(stack_.clock.unixSeconds());
  ASSERT_FALSE(stack_.revocations.isSessionRevoked(ended.session_id));
  EXPECT_EQ(refusal(ended.cookie), Errc::InvalidToken);
  // The control: a session nobody ended is still good.
  EXPECT_EQ(refusal(kept.cookie), Errc::Internal);
}

TEST_F(BrowserSessionsTest, StorageIsReadAgainOnlyAfterTheRecheckInterval) {
  const auto s = started();
  // Just made on this node: answered from memory once the user is cached.
  EXPECT_EQ(refusal(s.cookie, core::Wait::Yes), Errc::Internal);
  EXPECT_EQ(refusal(s.cookie, core::Wait::No), Errc::Internal);
  stack_.clock.advance(kRecheck - 1);
  EXPECT_EQ(refusal(s.cookie, core::Wait::No), Errc::Internal);
  stack_.clock.advance(1);
  EXPECT_EQ(refusal(s.cookie, core::Wait::No), Errc::WouldBlock);
  EXPECT_EQ(refusal(s.cookie, core::Wait::Yes), Errc::Internal);
  EXPECT_EQ(refusal(s.cookie, core::Wait::No), Errc::Internal);
}

TEST_F(BrowserSessionsTest, ThePasswordSetByAnOperatorEndsTheBrowserSession) {
  const auto s = started();
  stack_.clock.advance(5);
  ASSERT_TRUE(stack_.passwords.setPassword(
      stack_.store->users().findByUsername("bsuser").value()->id, "An0ther-passw0rd!", client_));
  EXPECT_EQ(refusal(s.cookie), Errc::InvalidToken);
}

TEST_F(BrowserSessionsTest, TheCookieNamesTheRoleNotEveryPermission) {
  // However many permissions a role holds, the cookie carries its name: it stays small.
  std::string big = R"({"permissions": [)";
  std::string granted;
  for (int i = 0; i < 300; ++i) {
    const std::string p = "\"resource" + std::to_string(i) + ":read\"";
    big += (i == 0 ? "" : ",") + p;
    granted += "," + p;
  }
  big += R"(], "roles": {"user": ["users:read")" + granted + "]}}";
  auto policy = rbac::Policy::fromJson(big);
  ASSERT_TRUE(policy) << policy.error().message;
  stack_.policy = std::move(*policy);
  ASSERT_EQ(stack_.policy.permissionsOf("user").size(), 301U);
  const auto s = started();
  EXPECT_LT(s.cookie.size(), 600U);
  auto who = browser_.authenticate(s.cookie);
  ASSERT_TRUE(who) << who.error().detail;
  EXPECT_EQ(who->permissions, stack_.policy.permissionsOf("user"));
  // A narrowed sign-in keeps its narrow permissions.
  auto narrow = signedIn();
  narrow.scopes = {"users:read"};
  auto started_narrow = browser_.start(narrow, client_);
  ASSERT_TRUE(started_narrow);
  auto narrowed = browser_.authenticate(started_narrow->cookie);
  ASSERT_TRUE(narrowed);
  EXPECT_EQ(narrowed->permissions, std::vector<std::string>{"users:read"});
}

TEST_F(BrowserSessionsTest, TheCookieExpiresWithItsSession) {
  const auto s = started();
  stack_.clock.advance(stack_.tokens.settings().refresh_ttl.count() + 1);
  EXPECT_EQ(refusal(s.cookie), Errc::InvalidToken);
}

// A cookie opened once is remembered: its expiry and its session are still checked every time.
TEST_F(BrowserSessionsTest, ARememberedCookieStillExpiresAndEnds) {
  const auto s = started();
  const std::int64_t ttl = stack_.tokens.settings().refresh_ttl.count();
  // A second before it expires (storage rechecked just now, so only the cookie's own expiry can
  // refuse it two seconds later), then from memory after it.
  stack_.clock.advance(ttl - 1);
  ASSERT_TRUE(browser_.authenticate(s.cookie));
  ASSERT_TRUE(browser_.authenticate(s.cookie));
  stack_.clock.advance(2);
  EXPECT_EQ(refusal(s.cookie), Errc::InvalidToken);
  EXPECT_EQ(refusal(s.cookie), Errc::InvalidToken);  // forgotten, opened again, still expired

  // A live session's cookie with one byte changed is another key: opened, and does not open.
  const auto live = started();
  ASSERT_TRUE(browser_.authenticate(live.cookie));
  std::string altered = live.cookie;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(refusal(altered), Errc::InvalidToken);
  ASSERT_TRUE(browser_.authenticate(live.cookie));
  // Over the size limit, even as valid base64url, is refused before anything else.
  EXPECT_EQ(refusal(std::string(BrowserSessions::kMaxCookieBytes + 4, 'a')), Errc::InvalidToken);

  auto who = browser_.authenticate(live.cookie);
  ASSERT_TRUE(who);
  ASSERT_TRUE(browser_.end(*who, client_));
  EXPECT_EQ(refusal(live.cookie), Errc::InvalidToken);
}

}  // namespace
}  // namespace gatehouse::auth
