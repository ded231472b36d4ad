// The rules of docs/api.md's Tokens and Sessions sections, one test each, on the real service
// graph (SQLite, bcrypt cost 10) with an injected clock. Each fails when its rule is removed.
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "auth/passwords.hpp"
#include "auth/sessions.hpp"
#include "auth/token_check.hpp"
#include "support/auth_stack.hpp"

namespace gatehouse::auth {
namespace {

constexpr const char* kPassword = "Passw0rd!x";

class AuthRules : public ::testing::Test {
 protected:
  TokenPair registered() {
    auto pair = stack_.registerUser({"rules@example.com", "rules", kPassword}, client_);
    EXPECT_TRUE(pair) << (pair ? "" : pair.error().detail);
    return pair ? *pair : TokenPair{};
  }
  TokenPair login(const std::optional<std::string>& scope = std::nullopt) {
    auto pair = stack_.login("rules", kPassword, scope, client_);
    EXPECT_TRUE(pair) << (pair ? "" : pair.error().detail);
    return pair ? *pair : TokenPair{};
  }
  Errc refusal(const std::string& token) {
    auto who = stack_.token_check.authenticate(token);
    return who ? Errc::Internal : who.error().code;  // Internal: "accepted" in these tests
  }
  // A signed token with `claims` changed from a valid access token's.
  std::string forged(const TokenPair& pair, const std::function<void(boost::json::object&)>& edit) {
    auto c = stack_.tokens.verifyAccess(pair.access_token).value();
    boost::json::object o = c.raw;
    edit(o);
    return jose::signJwt(stack_.key, o).value();
  }

  gatehouse::testing::AuthStack stack_{"rules"};
  ClientInfo client_{"127.0.0.1", "test", "req"};
};

TEST_F(AuthRules, AValidAccessTokenIsAccepted) {
  const auto pair = registered();
  auto who = stack_.token_check.authenticate(pair.access_token);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->user->username, "rules");
}

TEST_F(AuthRules, SignatureMustVerifyWithThePinnedAlgorithm) {
  auto pair = registered();
  pair.access_token.back() = pair.access_token.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(refusal(pair.access_token), Errc::InvalidToken);
}

TEST_F(AuthRules, ARefreshTokenIsNotAnAccessToken) {
  const auto pair = registered();
  EXPECT_EQ(refusal(pair.refresh_token), Errc::InvalidToken);
}

TEST_F(AuthRules, ExpiredTokensAreRefused) {
  const auto pair = registered();
  stack_.clock.advance(31 * 60);
  EXPECT_EQ(refusal(pair.access_token), Errc::InvalidToken);
}

TEST_F(AuthRules, ARevokedJtiIsRefused) {
  const auto pair = registered();
  ASSERT_TRUE(stack_.sessions.revoke(pair.access_token, std::nullopt, client_));
  EXPECT_EQ(refusal(pair.access_token), Errc::InvalidToken);
}

TEST_F(AuthRules, AnEndedSessionEndsEveryAccessTokenOfIt) {
  const auto first = registered();
  auto second = stack_.sessions.refresh(first.refresh_token, client_);  // same session, new token
  ASSERT_TRUE(second);
  auto who = stack_.token_check.authenticate(second->access_token);
  ASSERT_TRUE(who);
  ASSERT_TRUE(stack_.sessions.logout(*who, std::nullopt, client_));
  EXPECT_EQ(refusal(first.access_token), Errc::InvalidToken);  // never revoked by its jti
}

TEST_F(AuthRules, ADeletedUsersTokensAreRefused) {
  const auto pair = registered();
  const auto id = stack_.token_check.authenticate(pair.access_token)->user->id;
  ASSERT_TRUE(stack_.store->users().remove(id, "admin"));
  stack_.cache.invalidate(id);
  EXPECT_EQ(refusal(pair.access_token), Errc::InvalidToken);
}

TEST_F(AuthRules, AuthorizationIsTheCurrentRoleIntersectedWithTheTokenScopes) {
  registered();
  const auto narrow = login("posts:read users:delete");  // asks for more than the role has
  auto who = stack_.token_check.authenticate(narrow.access_token);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->permissions, std::vector<std::string>{"posts:read"});
  // A demotion applies to existing tokens at once: a role without posts:read leaves nothing.
  const auto full = login();
  const auto id = who->user->id;
  store::UserPatch patch;
  patch.role = "nobody";
  ASSERT_TRUE(stack_.store->users().update(id, patch, "admin"));
  stack_.cache.invalidate(id);
  EXPECT_TRUE(stack_.token_check.authenticate(full.access_token)->permissions.empty());
}

TEST_F(AuthRules, TheHotPathNeedsNoStorageOnceTheUserIsCached) {
  const auto pair = registered();
  ASSERT_TRUE(stack_.token_check.authenticate(pair.access_token));  // warms the cache
  EXPECT_TRUE(stack_.token_check.authenticate(pair.access_token, core::Wait::No));
  stack_.cache.invalidate(stack_.token_check.authenticate(pair.access_token)->user->id);
  auto cold = stack_.token_check.authenticate(pair.access_token, core::Wait::No);
  ASSERT_FALSE(cold);
  EXPECT_EQ(cold.error().code, Errc::WouldBlock);
}

TEST_F(AuthRules, APasswordChangeVoidsEarlierTokensButNotLaterLogins) {
  const auto before = registered();
  stack_.clock.advance(10);
  const auto changer = login();
  auto who = stack_.token_check.authenticate(changer.access_token);
  ASSERT_TRUE(who);
  stack_.clock.advance(10);
  ASSERT_TRUE(stack_.passwords.changePassword(*who, kPassword, "N3w-Passw0rd!", client_));
  EXPECT_EQ(refusal(before.access_token), Errc::InvalidToken);
  EXPECT_EQ(refusal(changer.access_token), Errc::InvalidToken);
  EXPECT_FALSE(stack_.sessions.refresh(before.refresh_token, client_));
  auto after = stack_.login("rules", "N3w-Passw0rd!", std::nullopt, client_);
  ASSERT_TRUE(after);
  EXPECT_TRUE(stack_.token_check.authenticate(after->access_token));
}

TEST_F(AuthRules, RefreshIsACompareAndSetExactlyOneConcurrentRefreshWins) {
  const auto pair = registered();
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (stack_.sessions.refresh(pair.refresh_token, client_)) ++wins;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST_F(AuthRules, ARotatedRefreshTokenComingBackRevokesTheSession) {
  const auto first = registered();
  auto second = stack_.sessions.refresh(first.refresh_token, client_);
  ASSERT_TRUE(second);
  auto reuse = stack_.sessions.refresh(first.refresh_token, client_);
  ASSERT_FALSE(reuse);
  EXPECT_EQ(reuse.error().code, Errc::InvalidRefreshToken);
  EXPECT_FALSE(stack_.sessions.refresh(second->refresh_token, client_));  // the family is dead
  EXPECT_EQ(refusal(second->access_token), Errc::InvalidToken);
}

TEST_F(AuthRules, LogoutRevokesTheTokenAndItsSession) {
  const auto pair = registered();
  auto who = stack_.token_check.authenticate(pair.access_token);
  ASSERT_TRUE(who);
  ASSERT_TRUE(stack_.sessions.logout(*who, std::nullopt, client_));
  EXPECT_EQ(refusal(pair.access_token), Errc::InvalidToken);
  EXPECT_FALSE(stack_.sessions.refresh(pair.refresh_token, client_));
}

TEST_F(AuthRules, EachLoginStartsItsOwnSession) {
  registered();
  login();
  login();
  auto who = stack_.token_check.authenticate(login().access_token);
  ASSERT_TRUE(who);
  EXPECT_EQ(stack_.sessions.list(*who)->size(), 4U);
}

TEST_F(AuthRules, RefreshKeepsTheScopeGrantedAtLogin) {
  registered();
  const auto narrow = login("posts:read");
  auto refreshed = stack_.sessions.refresh(narrow.refresh_token, client_);
  ASSERT_TRUE(refreshed);
  EXPECT_EQ(stack_.tokens.verifyAccess(refreshed->access_token)->scopes,
            std::vector<std::string>{"posts:read"});
}

TEST_F(AuthRules, TokensWithoutAJtiAreRefused) {
  const auto pair = registered();
  EXPECT_EQ(refusal(forged(pair, [](boost::json::object& o) { o.erase("jti"); })),
            Errc::InvalidToken);
}

TEST_F(AuthRules, AnOperatorsNewPasswordEndsEverySessionAndIsAuditedAsCli) {
  const TokenPair pair = registered();
  const ClientInfo cli = commandLineClient();
  const auto id = stack_.token_check.authenticate(pair.access_token)->user->id;
  EXPECT_EQ(stack_.passwords.setPassword(id, "weak", cli).error().code, Errc::Validation);
  EXPECT_EQ(refusal(pair.access_token), Errc::Internal);  // a refused reset changes nothing
  stack_.clock.advance(1);
  ASSERT_TRUE(stack_.passwords.setPassword(id, "0perator-Set!", cli));
  EXPECT_EQ(refusal(pair.access_token), Errc::InvalidToken);
  EXPECT_FALSE(stack_.sessions.refresh(pair.refresh_token, client_));
  EXPECT_TRUE(stack_.login("rules", "0perator-Set!", std::nullopt, client_));
  EXPECT_EQ(stack_.passwords.setPassword(424242, "0perator-Set!", cli).error().code,
            Errc::UserNotFound);
  auto events = stack_.store->audit().query({.type = "password.reset"});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1U);
  EXPECT_EQ(boost::json::parse(events->front().detail).at("actor").as_string(), "cli");
  EXPECT_FALSE(events->front().actor_id.has_value());
}

TEST_F(AuthRules, AnOperatorsAccountFollowsTheRegistrationRules) {
  const ClientInfo cli = commandLineClient();
  auto bad = stack_.passwords.createAccount({"not-an-email", "x", "short", "emperor", false}, cli);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::Validation);
  std::set<std::string> fields;
  for (const auto& f : bad.error().fields) fields.insert(f.loc.back());
  EXPECT_EQ(fields, (std::set<std::string>{"email", "username", "password", "role"}));
  auto made =
      stack_.passwords.createAccount({"op@example.com", "operator", kPassword, "admin", true}, cli);
  ASSERT_TRUE(made) << made.error().detail;
  EXPECT_EQ(made->role, "admin");
  EXPECT_TRUE(made->email_verified);
  EXPECT_EQ(
      stack_.passwords.createAccount({"op@example.com", "other", kPassword, "user", false}, cli)
          .error()
          .code,
      Errc::EmailTaken);
}

}  // namespace
}  // namespace gatehouse::auth
