// The rules of docs/api.md's Tokens and Sessions sections, one test each, on the real service
// graph (SQLite, bcrypt cost 10) with an injected clock. Each fails when its rule is removed.
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "auth/api_keys.hpp"
#include "auth/claims.hpp"
#include "auth/passwords.hpp"
#include "auth/sessions.hpp"
#include "auth/token_check.hpp"
#include "auth/user_service.hpp"
#include "core/base64url.hpp"
#include "core/blocking.hpp"
#include "crypto/hmac.hpp"
#include "support/auth_stack.hpp"
#include "support/seam_store.hpp"

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

  // `count` API keys of the registered user, made through `keys`.
  std::vector<CreatedApiKey> apiKeys(ApiKeyService& keys, int count) {
    std::vector<CreatedApiKey> made;
    const auto owner = stack_.store->users().findByUsername("rules");
    EXPECT_TRUE(owner && *owner);
    if (!owner || !*owner) return made;
    for (int i = 0; i < count; ++i) {
      auto k = keys.create(**owner, stack_.policy.permissionsOf((*owner)->role),
                           {"key" + std::to_string(i), std::nullopt, std::nullopt}, std::nullopt,
                           client_);
      EXPECT_TRUE(k);
      if (k) made.push_back(std::move(*k));
    }
    return made;
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

TEST_F(AuthRules, ThePrincipalSharesTheClaimsTheNodeKeptForTheToken) {
  const auto pair = registered();
  auto first = stack_.token_check.authenticate(pair.access_token);
  auto second = stack_.token_check.authenticate(pair.access_token);
  ASSERT_TRUE(first && second);
  ASSERT_NE(first->token, nullptr);
  // No copy anywhere between the cache and the principal: one object for both requests.
  EXPECT_EQ(first->token.get(), second->token.get());
  EXPECT_EQ(second->token.get(), stack_.tokens.verifyAccessShared(pair.access_token)->get());
  EXPECT_EQ(second->claims().sub, std::to_string(second->user->id));
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

// What a revocation still has to end (SessionEnd::sessionLive): a live session, or one whose
// refresh lifetime ended less than an access-token lifetime ago with its tokens not ended (a
// review: ACCESS_TOKEN_EXPIRE_MINUTES may pass REFRESH_TOKEN_EXPIRE_DAYS); never an ended one.
TEST_F(AuthRules, ARevocationStillEndsTheAccessTokensOfARecentlyExpiredSession) {
  registered();
  const auto user = stack_.store->users().findByUsername("rules").value();
  ASSERT_TRUE(user);
  SessionEnd end(*stack_.store, stack_.revocations, stack_.clock, std::chrono::hours(48));
  const std::int64_t now = stack_.clock.unixSeconds();
  const auto make = [&](const std::string& id, std::int64_t expires_at) {
    ASSERT_TRUE(stack_.store->sessions().create(
        {id, user->id, "jti-" + id, "ua", "ip", now - 100, now - 100, expires_at}));
  };
  make("live", now + 60);
  make("recent", now - 3600);    // expired an hour ago: tokens of 48 hours may work
  make("old", now - 49 * 3600);  // expired before any of its tokens could still work
  EXPECT_TRUE(end.sessionLive("live").value());
  EXPECT_TRUE(end.sessionLive("recent").value());
  EXPECT_FALSE(end.sessionLive("old").value());
  EXPECT_FALSE(end.sessionLive("missing").value());
  EXPECT_FALSE(end.sessionLive("").value());
  ASSERT_TRUE(end.end("recent"));
  ASSERT_TRUE(end.end("live"));
  EXPECT_FALSE(end.sessionLive("recent").value());  // its tokens are listed: nothing left
  EXPECT_FALSE(end.sessionLive("live").value());
}

TEST_F(AuthRules, ADeletedUsersTokensAreRefused) {
  const auto pair = registered();
  const auto id = stack_.token_check.authenticate(pair.access_token)->user->id;
  ASSERT_TRUE(stack_.store->users().remove(id, "admin", std::nullopt));
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

TEST_F(AuthRules, ADemotionReachesATokenAnsweredFromTheCache) {
  registered();
  const auto pair = login();
  auto before = stack_.token_check.authenticate(pair.access_token);  // verified, then kept
  ASSERT_TRUE(before);
  ASSERT_FALSE(before->permissions.empty());
  const auto hits = stack_.tokens.verifiedTokens().hits();
  store::UserPatch patch;
  patch.role = "nobody";
  ASSERT_TRUE(stack_.store->users().update(before->user->id, patch, "admin"));
  stack_.cache.invalidate(before->user->id);
  auto after = stack_.token_check.authenticate(pair.access_token);
  ASSERT_TRUE(after);
  EXPECT_EQ(stack_.tokens.verifiedTokens().hits(), hits + 1);  // the token came from the cache
  EXPECT_TRUE(after->permissions.empty());                     // the rights did not
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

TEST_F(AuthRules, InTheSecondOfAPasswordChangeTheTokensSessionDecides) {
  registered();
  stack_.clock.advance(10);
  const auto before = login();  // issued in the second the change below happens
  const auto id = stack_.token_check.authenticate(before.access_token)->user->id;
  const std::string no_sid = forged(before, [](boost::json::object& o) { o.erase("sid"); });
  // The change as another process (the CLI) makes it: hash, watermark and sessions in storage,
  // nothing on this node's revocation list; the user cache learns of it (the change log).
  const auto hash = stack_.hasher.hash("N3w-Passw0rd!");
  ASSERT_TRUE(hash);
  const std::int64_t now = stack_.clock.unixSeconds();
  ASSERT_TRUE(stack_.store->users().changePassword(id, *hash, now, {}));
  stack_.cache.invalidate(id);
  ASSERT_EQ(stack_.tokens.verifyAccess(before.access_token)->iat, now);
  EXPECT_EQ(refusal(before.access_token), Errc::InvalidToken);  // its session ended with the change
  EXPECT_EQ(refusal(no_sid), Errc::InvalidToken);               // no session to decide by
  auto after = stack_.login("rules", "N3w-Passw0rd!", std::nullopt, client_);  // the same second
  ASSERT_TRUE(after) << after.error().detail;
  ASSERT_EQ(stack_.tokens.verifyAccess(after->access_token)->iat, now);
  EXPECT_EQ(refusal(after->access_token), Errc::Internal);  // accepted: its session is live
}

TEST_F(AuthRules, RefreshChecksTheWatermarkItselfEvenWithALiveSession) {
  const auto pair = registered();
  const auto id = stack_.token_check.authenticate(pair.access_token)->user->id;
  stack_.clock.advance(10);
  // The watermark moves but the session row stays live (as if ending it had not been recorded).
  ASSERT_TRUE(
      stack_.store->users().setTokensValidAfter(id, stack_.clock.unixSeconds(), std::nullopt));
  stack_.cache.invalidate(id);
  const std::string sid(sessionOf(*stack_.tokens.verifyRefresh(pair.refresh_token)));
  auto row = stack_.store->sessions().find(sid);
  ASSERT_TRUE(row && *row);
  ASSERT_FALSE((*row)->revoked);
  // Introspection answers it as the refresh does (a review: active).
  auto seen = stack_.sessions.introspect(pair.refresh_token, std::string("refresh_token"));
  ASSERT_TRUE(seen);
  EXPECT_FALSE(seen->active);
  auto refreshed = stack_.sessions.refresh(pair.refresh_token, client_);
  ASSERT_FALSE(refreshed);
  EXPECT_EQ(refreshed.error().code, Errc::InvalidRefreshToken);
}

TEST_F(AuthRules, AnInactiveUserGets403FirstAndEarlierTokensStayVoidAfterReactivation) {
  const auto pair = registered();
  const auto id = stack_.token_check.authenticate(pair.access_token)->user->id;
  // A token without a session: after reactivation only the watermark can refuse it.
  const std::string no_sid = forged(pair, [](boost::json::object& o) { o.erase("sid"); });
  ASSERT_EQ(refusal(no_sid), Errc::Internal);
  ApiKeyService keys(*stack_.store, stack_.policy, stack_.cache, stack_.audit, stack_.clock);
  UserService users(*stack_.store, stack_.policy, stack_.cache, stack_.audit, stack_.clock, keys,
                    stack_.session_end);
  const Actor admin{std::nullopt, stack_.policy.allPermissions()};
  stack_.clock.advance(10);
  store::UserPatch off;
  off.is_active = false;
  ASSERT_TRUE(users.update(id, off, admin, client_));
  // 403 before 401, though the token's session has ended and the watermark has moved.
  EXPECT_EQ(refusal(pair.access_token), Errc::InactiveUser);
  EXPECT_EQ(refusal(no_sid), Errc::InactiveUser);
  stack_.clock.advance(10);
  store::UserPatch on;
  on.is_active = true;
  ASSERT_TRUE(users.update(id, on, admin, client_));
  EXPECT_EQ(refusal(pair.access_token), Errc::InvalidToken);
  EXPECT_EQ(refusal(no_sid), Errc::InvalidToken);
  auto refreshed = stack_.sessions.refresh(pair.refresh_token, client_);
  ASSERT_FALSE(refreshed);
  EXPECT_EQ(refreshed.error().code, Errc::InvalidRefreshToken);
  EXPECT_EQ(refusal(login().access_token), Errc::Internal);  // a new sign-in works
}

// A moderator may deactivate a user, not an administrator. A promotion committed between the
// service's read of the role and its update sends the judgment round again: the change is refused
// on the new role, where it would have deactivated an administrator, and each record names what
// the update itself replaced.
TEST_F(AuthRules, AChangeJudgedOnARoleThatMovedIsJudgedAgain) {
  const auto pair = registered();
  const auto id = stack_.token_check.authenticate(pair.access_token)->user->id;
  testing::SeamStore seam(*stack_.store);
  ApiKeyService keys(seam, stack_.policy, stack_.cache, stack_.audit, stack_.clock);
  UserService users(seam, stack_.policy, stack_.cache, stack_.audit, stack_.clock, keys,
                    stack_.session_end);
  const Actor moderator{std::nullopt, stack_.policy.permissionsOf("moderator")};
  // Another administrator's promotion of the user, committed where a seam puts it.
  const auto promote = [&] {
    store::UserPatch to_admin;
    to_admin.role = "admin";
    ASSERT_TRUE(stack_.store->users().update(id, to_admin, "nobody"));
  };
  seam.seam_users.before_update = promote;
  store::UserPatch off;
  off.is_active = false;
  auto refused = users.update(id, off, moderator, client_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::Forbidden);
  auto after = stack_.store->users().findById(id).value();
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->is_active);
  EXPECT_EQ(after->role, "admin");
  // A rename raced by another rename: the record names the address the update replaced.
  const Actor admin{std::nullopt, stack_.policy.allPermissions()};
  seam.seam_users.before_update = [&] {
    store::UserPatch moved;
    moved.email = "raced@example.com";
    ASSERT_TRUE(stack_.store->users().update(id, moved, "nobody"));
  };
  store::UserPatch rename;
  rename.email = "renamed@example.com";
  ASSERT_TRUE(users.update(id, rename, admin, client_));
  auto events = stack_.store->audit().query({.type = "user.updated"});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1U);
  const auto detail = boost::json::parse(events->front().detail).as_object();
  EXPECT_EQ(detail.at("email_from").as_string(), "raced@example.com");
  EXPECT_EQ(detail.at("email_to").as_string(), "renamed@example.com");
  // A removal the same way: demoted to user, then promoted again as the moderator removes it.
  store::UserPatch demote;
  demote.role = "user";
  ASSERT_TRUE(stack_.store->users().update(id, demote, "nobody"));
  seam.seam_users.before_remove = promote;
  auto kept = users.remove(id, moderator, client_);
  ASSERT_FALSE(kept);
  EXPECT_EQ(kept.error().code, Errc::Forbidden);
  EXPECT_TRUE(stack_.store->users().findById(id).value());
  // And a password set on a role that moved since it was judged: nothing set.
  auto moved =
      stack_.passwords.setPassword(id, "M0derator-Set!", client_, false, std::nullopt, "user");
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, Errc::Unavailable);
  // Nor by a caller whose rights went while the password was hashed (an outside attack: resets a
  // demoted moderator had queued landed after the demotion).
  auto demoted = stack_.passwords.setPassword(id, "M0derator-Set!", client_, false, std::nullopt,
                                              "admin", [] { return fail(Errc::Forbidden); });
  ASSERT_FALSE(demoted);
  EXPECT_EQ(demoted.error().code, Errc::Forbidden);
  EXPECT_TRUE(stack_.login("rules", kPassword, std::nullopt, client_));
  // Ending its sessions the same way (a review: a new administrator's sessions ended).
  ASSERT_TRUE(stack_.store->users().update(id, demote, "nobody"));
  stack_.cache.invalidate(id);
  stack_.clock.advance(5);
  seam.seam_users.before_set_tokens_valid_after = promote;
  auto ended = users.endSessions(id, moderator, client_);
  ASSERT_FALSE(ended);
  EXPECT_EQ(ended.error().code, Errc::Forbidden);
  stack_.cache.invalidate(id);
  EXPECT_EQ(refusal(pair.access_token), Errc::Internal);  // accepted: nothing ended
}

// Reauthentication reads the account and the token's session from storage before the proof (a
// review, stop 61, found no test of it): a token checked before a password set elsewhere, held
// across it, proves nothing with the old password (checked against the principal's row, it did
// and started a session), nor with the new one (its session ended).
TEST_F(AuthRules, AReauthenticationHeldAcrossAPasswordChangeIsRefused) {
  const auto pair = registered();
  stack_.clock.advance(10);
  auto who = stack_.token_check.authenticate(pair.access_token);
  ASSERT_TRUE(who);
  stack_.clock.advance(10);
  ASSERT_TRUE(stack_.passwords.setPassword(who->user->id, "0perator-Set!", commandLineClient()));
  for (const char* password : {kPassword, "0perator-Set!"}) {
    auto proof = stack_.passwords.reauthenticate(*who, password, client_);
    ASSERT_FALSE(proof) << password;
    EXPECT_EQ(proof.error().code, Errc::InvalidCredentials) << password;
  }
  auto events = stack_.store->audit().query({.type = "reauthentication.failed"});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2U);
  for (const auto& e : *events)
    EXPECT_EQ(boost::json::parse(e.detail).at("reason").as_string(), "account_changed");
  // A token of the new password's sign-in proves it.
  auto fresh = stack_.token_check.authenticate(
      stack_.login("rules", "0perator-Set!", std::nullopt, client_).value().access_token);
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(stack_.passwords.reauthenticate(*fresh, "0perator-Set!", client_));
}

// The one rule the token check, reauthentication and the refreshes share.
TEST(Watermark, ATokenOfTheWatermarksSecondStandsOnlyByItsSession) {
  EXPECT_EQ(againstWatermark(99, 100, true), Watermark::Ended);
  EXPECT_EQ(againstWatermark(99, 100, false), Watermark::Ended);
  EXPECT_EQ(againstWatermark(100, 100, true), Watermark::SessionDecides);
  EXPECT_EQ(againstWatermark(100, 100, false), Watermark::Ended);
  EXPECT_EQ(againstWatermark(101, 100, false), Watermark::Stands);
  EXPECT_EQ(againstWatermark(0, 0, false), Watermark::Ended);  // no iat, never changed
}

// A clock a second later at every reading: code that reads it twice sees a second turn between.
class TickingClock final : public core::Clock {
 public:
  explicit TickingClock(std::int64_t start) : next_(start) {}
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(next_++));
  }

 private:
  mutable std::atomic<std::int64_t> next_;
};

// An API key's use (last_used_at, the hourly audit event) is recorded by a worker, never on the
// I/O thread, even when the minute falls due between two readings of the clock: a debug build
// stops at a storage call inside the NoWaitScope.
TEST_F(AuthRules, AnApiKeysUseIsRecordedOnlyWhereWaitingIsAllowed) {
  registered();
  const auto owner = stack_.store->users().findByUsername("rules");
  ASSERT_TRUE(owner && *owner);
  const TickingClock ticking(stack_.clock.unixSeconds());
  ApiKeyService keys(*stack_.store, stack_.policy, stack_.cache, stack_.audit, ticking);
  const auto created = keys.create(**owner, stack_.policy.permissionsOf((*owner)->role),
                                   {"ticking", std::nullopt, std::nullopt}, std::nullopt, client_);
  ASSERT_TRUE(created);
  int on_worker = 0;
  for (int i = 0; i < 240; ++i) {  // four minutes and more of readings
    const auto inline_answer = [&] {
      const core::NoWaitScope io_thread;
      return keys.authenticate(created->plaintext, client_, core::Wait::No);
    }();
    if (inline_answer) continue;
    ASSERT_EQ(inline_answer.error().code, Errc::WouldBlock) << inline_answer.error().detail;
    ++on_worker;
    ASSERT_TRUE(keys.authenticate(created->plaintext, client_, core::Wait::Yes));
  }
  EXPECT_GE(on_worker, 4) << "each minute's use is recorded by a worker";
  EXPECT_LE(on_worker, 12) << "a use not due is answered on the I/O thread";
  const auto stored = stack_.store->apiKeys().findById(created->key.id);
  ASSERT_TRUE(stored && *stored);
  EXPECT_GT((*stored)->last_used_at.value_or(0), stack_.clock.unixSeconds() + 180);
}

// Keys made, used once and revoked in a loop must not grow the memory of their last uses for the
// life of the process: what an hour has made meaningless goes (with the generation it was written
// in), and nothing that still counts.
TEST_F(AuthRules, TheLastUsesOfKeysAreRememberedForTheHourTheyMatter) {
  registered();
  ApiKeyService keys(*stack_.store, stack_.policy, stack_.cache, stack_.audit, stack_.clock, 2000);
  const auto made = apiKeys(keys, 1101);
  ASSERT_EQ(made.size(), 1101U);
  const auto use = [&](std::size_t i) {
    ASSERT_TRUE(keys.authenticate(made[i].plaintext, client_));
  };
  const auto audited = [&](std::size_t i) {
    int n = 0;
    const std::string key = "\"key_id\":" + std::to_string(made[i].key.id) + ",";
    EXPECT_TRUE(stack_.store->audit().scan([&](const store::AuditRecord& r) {
      n += r.type == "apikey.used" && r.detail.find(key) != std::string::npos ? 1 : 0;
      return true;
    }));
    return n;
  };
  const auto touched = [&](std::size_t i) {
    return stack_.store->apiKeys().findById(made[i].key.id).value()->last_used_at;
  };
  for (std::size_t i = 1; i < 1000; ++i) use(i);
  EXPECT_EQ(keys.usesRemembered(), 999U);
  stack_.clock.advance(3000);
  use(0);
  stack_.clock.advance(600);
  // An hour after the first use a new generation begins: the first hour's stays beside it.
  for (std::size_t i = 1000; i < 1100; ++i) use(i);
  EXPECT_EQ(keys.usesRemembered(), 1100U);
  // Nothing was lost: key 0 is touched again (its minute is over) but not audited (its hour is
  // not); key 1 is audited again, as it would have been.
  stack_.clock.advance(60);
  use(0);
  use(1);
  EXPECT_EQ(audited(0), 1);
  EXPECT_EQ(audited(1), 2);
  EXPECT_EQ(touched(0), stack_.clock.unixSeconds());
  // An hour after the second generation began: the first (keys 2-999, unused since) goes whole;
  // keys 0 and 1, moved to the second by their uses, and 1000-1099 stay.
  stack_.clock.advance(3550);
  use(1100);
  EXPECT_EQ(keys.usesRemembered(), 103U);
  use(1);
  EXPECT_EQ(audited(1), 2) << "remembered in the second generation: its hour is not over";
  use(0);
  EXPECT_EQ(audited(0), 2) << "audited 70 minutes ago";
  use(2);
  EXPECT_EQ(audited(2), 2) << "a key whose memory went is audited as a missing one would be";
  EXPECT_EQ(touched(2), stack_.clock.unixSeconds());
}

// A clock stepped back (a wrong clock at boot, set right later) must not hold off the next
// generation for the length of the step, keeping every key used meanwhile.
TEST_F(AuthRules, TheLastUsesOfKeysStillGoWhenTheClockStepsBack) {
  registered();
  ApiKeyService keys(*stack_.store, stack_.policy, stack_.cache, stack_.audit, stack_.clock, 600);
  const auto made = apiKeys(keys, 503);
  ASSERT_EQ(made.size(), 503U);
  const auto use = [&](std::size_t i) {
    ASSERT_TRUE(keys.authenticate(made[i].plaintext, client_));
  };
  for (std::size_t i = 0; i < 500; ++i) use(i);
  stack_.clock.advance(-86400);  // a day back
  use(500);
  EXPECT_EQ(keys.usesRemembered(), 501U);
  stack_.clock.advance(3600);
  use(501);  // an hour of the new clock: a new generation; the first hour's stays beside it
  EXPECT_EQ(keys.usesRemembered(), 502U);
  stack_.clock.advance(3600);
  use(502);  // and goes an hour later, not a day
  EXPECT_EQ(keys.usesRemembered(), 2U);
  // Used inline (Wait::No) where nothing is due: answered without a claim, nothing recorded.
  const core::NoWaitScope io_thread;
  EXPECT_TRUE(keys.authenticate(made[502].plaintext, client_, core::Wait::No));
  EXPECT_EQ(keys.usesRemembered(), 2U);
}

TEST_F(AuthRules, WithinTheRefreshGraceASecondRefreshFailsWithoutEndingTheSession) {
  constexpr std::int64_t kGrace = 10;
  Sessions graceful({*stack_.store, stack_.tokens, stack_.policy, stack_.revocations, stack_.cache,
                     stack_.token_check, stack_.session_end, stack_.rates, stack_.audit,
                     stack_.metrics, stack_.clock,
                     SessionRules{kGrace, {1000, std::chrono::seconds(60)}}});
  const auto first = registered();
  auto second = graceful.refresh(first.refresh_token, client_);
  ASSERT_TRUE(second);
  stack_.clock.advance(kGrace / 2);
  auto twin = graceful.refresh(first.refresh_token, client_);  // a second tab, inside the window
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.error().code, Errc::InvalidRefreshToken);
  EXPECT_EQ(refusal(second->access_token), Errc::Internal);  // the session lives on
  auto third = graceful.refresh(second->refresh_token, client_);
  ASSERT_TRUE(third);
  // After the window the same replay is theft: the whole session ends.
  stack_.clock.advance(kGrace + 1);
  auto replay = graceful.refresh(second->refresh_token, client_);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, Errc::InvalidRefreshToken);
  EXPECT_EQ(refusal(third->access_token), Errc::InvalidToken);
  auto after = graceful.refresh(third->refresh_token, client_);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, Errc::InvalidRefreshToken);
}

TEST_F(AuthRules, ASignInCheckedAgainstAnOlderAccountStateStartsNoSession) {
  registered();
  auto signed_in = stack_.passwords.login("rules", kPassword, std::nullopt, client_);
  ASSERT_TRUE(signed_in);
  const auto id = signed_in->user.id;
  const Principal owner{std::make_shared<const store::User>(signed_in->user), {}, {}, {}};
  const auto live = [&] { return stack_.sessions.list(owner).value().size(); };
  const auto sessions_before = live();
  // A watermark that moved while the proof was being checked.
  stack_.clock.advance(1);
  ASSERT_TRUE(
      stack_.store->users().setTokensValidAfter(id, stack_.clock.unixSeconds(), std::nullopt));
  auto started = stack_.sessions.start(*signed_in, client_);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Errc::InvalidCredentials);
  EXPECT_EQ(live(), sessions_before);
  // A hash that changed while the proof was being checked.
  auto again = stack_.passwords.login("rules", kPassword, std::nullopt, client_);
  ASSERT_TRUE(again);
  ASSERT_TRUE(stack_.store->users().replacePasswordHash(
      id, again->user.password_hash, stack_.hasher.hash("0ther-Passw0rd!").value()));
  started = stack_.sessions.start(*again, client_);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Errc::InvalidCredentials);
  EXPECT_EQ(live(), sessions_before);
}

TEST_F(AuthRules, Rfc7009ARefreshTokenEndsItsSessionAnAccessTokenOnlyItself) {
  const auto first = registered();
  ASSERT_TRUE(stack_.sessions.revoke(first.refresh_token, std::nullopt, client_));
  EXPECT_EQ(refusal(first.access_token), Errc::InvalidToken);
  auto dead = stack_.sessions.refresh(first.refresh_token, client_);
  ASSERT_FALSE(dead);
  EXPECT_EQ(dead.error().code, Errc::InvalidRefreshToken);

  const auto second = login();
  // The hint only orders the lookups.
  ASSERT_TRUE(stack_.sessions.revoke(second.access_token, std::string("refresh_token"), client_));
  EXPECT_EQ(refusal(second.access_token), Errc::InvalidToken);
  auto rotated = stack_.sessions.refresh(second.refresh_token, client_);  // the session lives
  ASSERT_TRUE(rotated);
  EXPECT_EQ(refusal(rotated->access_token), Errc::Internal);

  // Unknown, garbage and foreign-signed tokens: success, and nothing ends.
  const auto foreign_key =
      jose::Key::hmac(jose::Algorithm::Hs256, std::string(32, 'x'), "hs1").value();
  const std::string foreign =
      jose::signJwt(foreign_key, stack_.tokens.verifyRefresh(rotated->refresh_token)->raw).value();
  for (const std::string& junk :
       {std::string(), std::string("garbage"), std::string("a.b.c"), foreign}) {
    EXPECT_TRUE(stack_.sessions.revoke(junk, std::nullopt, client_)) << junk;
    EXPECT_TRUE(stack_.sessions.revoke(junk, std::string("refresh_token"), client_)) << junk;
    EXPECT_TRUE(stack_.sessions.revoke(junk, std::string("access_token"), client_)) << junk;
  }
  EXPECT_EQ(refusal(rotated->access_token), Errc::Internal);
  EXPECT_TRUE(stack_.sessions.refresh(rotated->refresh_token, client_));
}

TEST_F(AuthRules, EndingASessionStopsItsAccessTokensAtOnceAndOnlyForItsOwner) {
  const auto first = registered();
  const auto second = login();
  auto who = stack_.token_check.authenticate(second.access_token);
  ASSERT_TRUE(who);
  const std::string first_sid(sessionOf(*stack_.tokens.verifyAccess(first.access_token)));
  const std::string second_sid(sessionOf(who->claims()));
  ASSERT_EQ(refusal(first.access_token), Errc::Internal);
  ASSERT_TRUE(stack_.sessions.end(*who, first_sid, client_));
  EXPECT_EQ(refusal(first.access_token), Errc::InvalidToken);  // at once: the clock never moved
  auto dead = stack_.sessions.refresh(first.refresh_token, client_);
  ASSERT_FALSE(dead);
  EXPECT_EQ(dead.error().code, Errc::InvalidRefreshToken);
  EXPECT_EQ(refusal(second.access_token), Errc::Internal);     // the caller's own session lives on
  auto again = stack_.sessions.end(*who, first_sid, client_);  // already ended
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::SessionNotFound);

  auto other = stack_.registerUser({"other@example.com", "other", kPassword}, client_);
  ASSERT_TRUE(other);
  auto intruder = stack_.token_check.authenticate(other->access_token);
  ASSERT_TRUE(intruder);
  auto refused = stack_.sessions.end(*intruder, second_sid, client_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::SessionNotFound);
  EXPECT_EQ(refusal(second.access_token), Errc::Internal);
  EXPECT_TRUE(stack_.sessions.refresh(second.refresh_token, client_));
}

TEST_F(AuthRules, TokensOverTheSizeLimitAreRefusedBeforeParsing) {
  const auto pair = registered();
  const std::size_t size = pair.access_token.size();
  const auto service = [&](std::size_t max) {
    TokenSettings settings;
    settings.max_token_bytes = max;
    return TokenService(stack_.key, jose::KeySet::create({stack_.key}).value(), settings,
                        stack_.clock);
  };
  const TokenService exact = service(size);
  EXPECT_TRUE(exact.verifyAccess(pair.access_token));
  const TokenService small = service(size - 1);
  auto verified = small.verifyAccess(pair.access_token);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error(), jose::JwtError::TooLarge);
  TokenCheck check(
      {*stack_.store, small, stack_.policy, stack_.revocations, stack_.cache, stack_.clock});
  auto who = check.authenticate(pair.access_token);
  ASSERT_FALSE(who);
  EXPECT_EQ(who.error().code, Errc::InvalidToken);
  // At the default 8 KiB: junk one byte over is not even looked at (TooLarge, not Malformed).
  const std::string junk(jose::kDefaultMaxTokenBytes + 1, 'a');
  auto over = stack_.tokens.verifyAccess(junk);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), jose::JwtError::TooLarge);
  auto at = stack_.tokens.verifyAccess(junk.substr(1));
  ASSERT_FALSE(at);
  EXPECT_EQ(at.error(), jose::JwtError::Malformed);
  EXPECT_EQ(refusal(junk), Errc::InvalidToken);
}

TEST_F(AuthRules, ARetiredKeyVerifiesOnlyTokensItCouldHaveSignedBeforeItsRetirement) {
  // An outside attack: with a retired key in hand, tokens forged after `keys rotate` (iat after
  // it, a year of exp) were accepted for the 7 days 30 minutes the key kept verifying.
  const std::int64_t now = stack_.clock.unixSeconds();
  const std::int64_t retired_at = now - 600;
  auto next = jose::Key::hmac(jose::Algorithm::Hs256, std::string(32, 'n'), "hs2").value();
  TokenSettings settings;  // access 30 minutes, refresh 7 days
  const TokenService service(next, jose::KeySet::create({next, stack_.key}).value(), settings,
                             stack_.clock, {{stack_.key.kid(), retired_at}});
  const auto forged = [&](const jose::Key& key, std::int64_t iat, std::int64_t lifetime,
                          const char* type) {
    boost::json::object c{{"sub", "1"},
                          {"type", type},
                          {"iat", iat},
                          {"exp", iat + lifetime},
                          {"jti", "j"},
                          {"iss", settings.issuer},
                          {"scopes", boost::json::array{}},
                          {"sid", "s"}};
    return jose::signJwt(key, c).value();
  };
  const std::int64_t access = settings.access_ttl.count();
  const std::int64_t refresh = settings.refresh_ttl.count();
  // Made while it signed (or within the minute a node takes to switch), living a lifetime:
  // verified while unexpired.
  EXPECT_TRUE(service.verifyAccess(forged(stack_.key, retired_at - 10, access, "access")));
  EXPECT_TRUE(service.verifyAccess(forged(stack_.key, retired_at + 60, access, "access")));
  EXPECT_TRUE(service.verifyRefresh(forged(stack_.key, retired_at - 10, refresh, "refresh")));
  EXPECT_TRUE(service.verifyRefresh(forged(stack_.key, retired_at + 60, refresh, "refresh")));
  // Issued after, or living longer than this server issues: refused.
  for (const auto& [token, what] : std::vector<std::pair<std::string, const char*>>{
           {forged(stack_.key, retired_at + 61, access, "access"), "issued after"},
           {forged(stack_.key, now, access, "access"), "issued now"},
           {forged(stack_.key, retired_at - 10, 365 * 86400, "access"), "a year"},
           {forged(stack_.key, retired_at - 10, access + 1, "access"), "a second longer"}}) {
    auto r = service.verifyAccess(token);
    ASSERT_FALSE(r) << what;
    EXPECT_EQ(r.error(), jose::JwtError::BadClaim) << what;
  }
  for (const auto& [iat, lifetime] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {now - 10, refresh}, {retired_at - 10, refresh + 1}}) {
    auto r = service.verifyRefresh(forged(stack_.key, iat, lifetime, "refresh"));
    ASSERT_FALSE(r) << iat << " " << lifetime;
    EXPECT_EQ(r.error(), jose::JwtError::BadClaim);
  }
  auto no_iat_claims = boost::json::object{
      {"sub", "1"}, {"type", "access"}, {"exp", now + 60}, {"jti", "j"}, {"iss", settings.issuer}};
  EXPECT_FALSE(service.verifyAccess(jose::signJwt(stack_.key, no_iat_claims).value()));
  // Without a session or an id (a review: they would skip the session's checks).
  boost::json::object base{{"sub", "1"},
                           {"type", "access"},
                           {"iat", retired_at - 10},
                           {"exp", retired_at - 10 + access},
                           {"iss", settings.issuer},
                           {"scopes", boost::json::array{}}};
  for (const auto& [extra, what] : std::vector<std::pair<boost::json::object, const char*>>{
           {{{"jti", "j"}}, "no sid"},
           {{{"sid", "s"}}, "no jti"},
           {{{"jti", "j"}, {"sid", ""}}, "empty sid"}}) {
    boost::json::object c = base;
    for (const auto& kv : extra) c[kv.key()] = kv.value();
    EXPECT_FALSE(service.verifyAccess(jose::signJwt(stack_.key, c).value())) << what;
  }
  base["jti"] = "j";
  base["sid"] = "s";
  EXPECT_TRUE(service.verifyAccess(jose::signJwt(stack_.key, base).value()));
  // The signing key is not bound so: its tokens come from this server's own issue().
  EXPECT_TRUE(service.verifyAccess(forged(next, now, 365 * 86400, "access")));
}

TEST_F(AuthRules, OnlyThePinnedAlgorithmIsAcceptedWhateverTheKeyMaterial) {
  const auto pair = registered();
  const boost::json::object claims = stack_.tokens.verifyAccess(pair.access_token)->raw;
  const std::string payload = core::base64urlEncode(boost::json::serialize(claims));
  const auto why = [&](const std::string& token) -> std::optional<jose::JwtError> {
    auto verified = stack_.tokens.verifyAccess(token);
    if (verified) return std::nullopt;
    return verified.error();
  };
  const auto signedWith = [&](std::string_view header, const auto& sign) {
    const std::string input = core::base64urlEncode(header) + "." + payload;
    return input + "." + core::base64urlEncode(sign(input));
  };
  const auto hs256 = [&](std::string_view input) { return stack_.key.signBytes(input).value(); };
  const auto hs512 = [](std::string_view input) {
    return crypto::hmac(crypto::Digest::Sha512, std::string(32, 's'), input).value();
  };
  // The key "hs1" and a signature it verifies, under a header naming another algorithm.
  const std::string relabelled = signedWith(R"({"alg":"HS512","typ":"JWT","kid":"hs1"})", hs256);
  EXPECT_EQ(why(relabelled), jose::JwtError::AlgorithmMismatch);
  EXPECT_EQ(refusal(relabelled), Errc::InvalidToken);
  // HS512 with the same secret and kid.
  const std::string other_alg = signedWith(R"({"alg":"HS512","typ":"JWT","kid":"hs1"})", hs512);
  EXPECT_EQ(why(other_alg), jose::JwtError::AlgorithmMismatch);
  EXPECT_EQ(refusal(other_alg), Errc::InvalidToken);
  // "none" in any spelling, without a signature or with a valid HS256 one.
  for (const char* header :
       {R"({"alg":"none","typ":"JWT","kid":"hs1"})", R"({"alg":"None","kid":"hs1"})"}) {
    const std::string bare = core::base64urlEncode(header) + "." + payload + ".";
    const std::string signed_none = signedWith(header, hs256);
    for (const std::string& token : {bare, signed_none}) {
      EXPECT_EQ(why(token), jose::JwtError::AlgNone) << header;
      EXPECT_EQ(refusal(token), Errc::InvalidToken) << header;
    }
  }
}

}  // namespace
}  // namespace gatehouse::auth
