// The purge of ended sessions, dead API keys and old changes (auth/retention.hpp) on the real
// service graph: what goes and when, that a purged session answers exactly as an ended one did,
// that a node which missed purged changes forgets what it cached, and that a backlog drains in
// bounded passes.
#include "auth/retention.hpp"

#include <algorithm>
#include <ctime>
#include <vector>

#include <gtest/gtest.h>

#include "auth/api_keys.hpp"
#include "auth/user_cache.hpp"
#include "support/auth_stack.hpp"

namespace gatehouse::auth {
namespace {

constexpr const char* kPassword = "Passw0rd!x";

class RetentionTest : public ::testing::Test {
 protected:
  RetentionTest() {
    // The change logs are timed by the database's clock: this one reads the same time.
    stack_.clock.set(std::time(nullptr));
    auto pair = stack_.registerUser({"rt@example.com", "rtuser", kPassword}, client_);
    EXPECT_TRUE(pair) << (pair ? "" : pair.error().detail);
    user_id_ = stack_.store->users().findByUsername("rtuser").value().value().id;
  }
  std::int64_t now() const { return stack_.clock.unixSeconds(); }
  // The cut-off of a pass at now(): a day past an access-token lifetime ago.
  std::int64_t cutoff() const { return now() - retention_.access_ttl.count() - 86400; }
  void session(const std::string& id, std::int64_t last_used, std::int64_t expires, bool ended) {
    ASSERT_TRUE(stack_.store->sessions().create(
        {id, user_id_, "jti-" + id, "", "", last_used - 10, last_used, expires, false}));
    if (ended) {
      ASSERT_TRUE(stack_.store->sessions().revoke(id));
    }
  }
  bool stored(const std::string& id) {
    return stack_.store->sessions().find(id).value().has_value();
  }
  std::int64_t key(const std::string& public_id, std::int64_t created,
                   std::optional<std::int64_t> expires, std::optional<std::int64_t> used,
                   bool revoked) {
    store::ApiKey k;
    k.user_id = user_id_;
    k.name = public_id;
    k.public_id = public_id;
    k.secret_hash = std::string(64, 'a');
    k.created_at = created;
    k.expires_at = expires;
    auto made = stack_.store->apiKeys().create(k, 100, std::nullopt);
    EXPECT_TRUE(made);
    if (used) {
      EXPECT_TRUE(stack_.store->apiKeys().touch(made->id, *used));
    }
    if (revoked) {
      EXPECT_TRUE(stack_.store->apiKeys().revoke(made->id, user_id_));
    }
    return made->id;
  }

  gatehouse::testing::AuthStack stack_{"retention"};
  ClientInfo client_{"127.0.0.1", "a test", "req"};
  std::int64_t user_id_ = 0;
  Retention retention_{.access_ttl = stack_.tokens.settings().access_ttl};
};

TEST_F(RetentionTest, ASessionGoesADayAfterItCouldLastMatter) {
  const auto cut = cutoff();
  session("live", now(), now() + 3600, false);
  session("idle", cut - 5000, now() + 3600, false);   // unused for long, not expired: stays
  session("expired-lately", cut - 5000, cut, false);  // its tokens may have lived until recently
  session("expired-long-ago", cut - 5000, cut - 1, false);
  session("ended-lately", cut, now() + 3600, true);
  session("ended-long-ago", cut - 1, now() + 3600, true);
  auto purged = purgeEnded(*stack_.store, now(), retention_);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(purged->sessions, 2);
  EXPECT_EQ(purged->api_keys, 0);
  EXPECT_TRUE(stored("live"));
  EXPECT_TRUE(stored("idle"));
  EXPECT_TRUE(stored("expired-lately"));
  EXPECT_TRUE(stored("ended-lately"));
  EXPECT_FALSE(stored("expired-long-ago"));
  EXPECT_FALSE(stored("ended-long-ago"));
  EXPECT_EQ(purgeEnded(*stack_.store, now(), retention_).value().sessions, 0);
}

TEST_F(RetentionTest, APurgedSessionAnswersAsAnEndedOne) {
  auto ended = stack_.login("rtuser", kPassword, std::nullopt, client_);
  auto kept = stack_.login("rtuser", kPassword, std::nullopt, client_);
  ASSERT_TRUE(ended && kept);
  const auto live = [&] { return stack_.store->sessions().listForUser(user_id_, now()).value(); };
  const auto before_logout = live();
  ASSERT_TRUE(stack_.sessions.revoke(ended->refresh_token, "refresh_token", client_));
  // The ended session: the one no longer listed.
  std::string ended_id;
  for (const auto& s : before_logout) {
    bool still = false;
    for (const auto& t : live()) still = still || t.id == s.id;
    if (!still) ended_id = s.id;
  }
  ASSERT_FALSE(ended_id.empty());
  stack_.clock.advance(3 * 86400);  // within the refresh lifetime (7 days)
  auto refused = stack_.sessions.refresh(ended->refresh_token, client_);
  ASSERT_FALSE(refused);

  auto purged = purgeEnded(*stack_.store, now(), retention_);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(purged->sessions, 1);
  EXPECT_FALSE(stored(ended_id));
  EXPECT_EQ(live().size(), before_logout.size() - 1);  // the idle live ones stay
  auto again = stack_.sessions.refresh(ended->refresh_token, client_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, refused.error().code);
  // RFC 7009: an unknown token is revoked silently, as an ended one was.
  EXPECT_TRUE(stack_.sessions.revoke(ended->refresh_token, "refresh_token", client_));
  // The other session, idle as long, still rotates.
  EXPECT_TRUE(stack_.sessions.refresh(kept->refresh_token, client_));
}

TEST_F(RetentionTest, ABacklogDrainsInShortPassesThatSayMoreIsLeft) {
  const auto cut = cutoff();
  for (int i = 0; i < 10; ++i) session("old-" + std::to_string(i), cut - 100, cut - 1, i % 2 == 0);
  // No time at all: one batch of each kind a pass, and "more" while a batch came back full.
  const Retention small{
      .access_ttl = retention_.access_ttl, .batch = 4, .budget = std::chrono::milliseconds(0)};
  std::vector<std::int64_t> passes;
  for (int pass = 0; pass < 10; ++pass) {
    auto purged = purgeEnded(*stack_.store, now(), small);
    ASSERT_TRUE(purged) << purged.error().message;
    passes.push_back(purged->sessions);
    if (!purged->more) break;
  }
  EXPECT_EQ(passes, (std::vector<std::int64_t>{4, 4, 2}));
  // With time, one pass takes what is there and says nothing is left.
  for (int i = 0; i < 10; ++i) session("older-" + std::to_string(i), cut - 100, cut - 1, false);
  const Retention timed{
      .access_ttl = retention_.access_ttl, .batch = 4, .budget = std::chrono::seconds(60)};
  auto purged = purgeEnded(*stack_.store, now(), timed);
  ASSERT_TRUE(purged);
  EXPECT_EQ(purged->sessions, 10);
  EXPECT_FALSE(purged->more);
}

TEST_F(RetentionTest, TheJanitorsPassGoesOnInContinuationsUntilNothingIsLeft) {
  const auto cut = cutoff();
  for (int i = 0; i < 10; ++i) session("old-" + std::to_string(i), cut - 100, cut - 1, false);
  RetentionPass pass(
      *stack_.store,
      {.access_ttl = retention_.access_ttl, .batch = 4, .budget = std::chrono::milliseconds(0)});
  int calls = 1;
  bool more = pass(now(), false);
  while (more && calls < 10) {
    more = pass(now(), true);
    ++calls;
  }
  EXPECT_EQ(calls, 3);  // 4, 4 and 2
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(stored("old-" + std::to_string(i))) << i;
  EXPECT_FALSE(pass(now(), false));
}

TEST_F(RetentionTest, SessionsTradedForSeedTokensStayWhileTheTokensTrade) {
  // Found by review: a seed (legacy) refresh token is single use only because the session it was
  // traded for (id "legacy-<digest>") exists; purged, the token would trade again. Once
  // LEGACY_TOKENS_UNTIL has passed no seed token trades, and they go like the others.
  const auto cut = cutoff();
  const std::string traded = "legacy-0123456789abcdef0123456789abcdef";
  session(traded, cut - 100, cut - 1, true);
  session("ordinary", cut - 100, cut - 1, true);
  Retention trading = retention_;
  trading.legacy_until = now() + 1;
  EXPECT_EQ(purgeEnded(*stack_.store, now(), trading).value().sessions, 1);
  EXPECT_TRUE(stored(traded));
  EXPECT_FALSE(stored("ordinary"));
  trading.legacy_until = now();
  EXPECT_EQ(purgeEnded(*stack_.store, now(), trading).value().sessions, 1);
  EXPECT_FALSE(stored(traded));
}

TEST_F(RetentionTest, RevokedAndExpiredKeysGoLiveOnesStayAndNodesHearOfIt) {
  const auto cut = cutoff();
  const auto start = stack_.store->apiKeys().changesSince(-1).value().seq;
  const auto live = key("live", cut - 100, std::nullopt, std::nullopt, false);
  const auto expiring = key("expiring", cut - 100, now() + 3600, std::nullopt, false);
  const auto expired_lately = key("expired-lately", cut - 100, cut, std::nullopt, false);
  const auto expired = key("expired", cut - 100, cut - 1, std::nullopt, false);
  const auto revoked_unused = key("revoked-unused", cut - 1, std::nullopt, std::nullopt, true);
  const auto revoked_used_lately = key("revoked-used", cut - 100, std::nullopt, cut, true);
  const auto revoked_new = key("revoked-new", cut, std::nullopt, std::nullopt, true);
  auto purged = purgeEnded(*stack_.store, now(), retention_);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(purged->api_keys, 2);
  const auto present = [&](std::int64_t id) {
    return stack_.store->apiKeys().findById(id).value().has_value();
  };
  EXPECT_TRUE(present(live));
  EXPECT_TRUE(present(expiring));
  EXPECT_TRUE(present(expired_lately));
  EXPECT_FALSE(present(expired));
  EXPECT_FALSE(present(revoked_unused));
  EXPECT_TRUE(present(revoked_used_lately));
  EXPECT_TRUE(present(revoked_new));
  // Every node's key cache reads the change log: the purged keys are in it.
  const auto changed = stack_.store->apiKeys().changesSince(start).value().ids;
  EXPECT_NE(std::find(changed.begin(), changed.end(), expired), changed.end());
  EXPECT_NE(std::find(changed.begin(), changed.end(), revoked_unused), changed.end());
}

TEST_F(RetentionTest, ANodeThatMissedPurgedChangesForgetsWhatItCachedTheOthersDoNot) {
  // Node A changes and purges; node B stalls (its database reads fail for a day, say) with a
  // user and a key cached; node C reads the logs every second. Without the horizon, B would
  // keep the deactivated user active and the revoked key working for ever.
  ApiKeyService keys_a(*stack_.store, stack_.policy, stack_.cache, stack_.audit, stack_.clock);
  auto other = stack_.registerUser({"rt2@example.com", "rtother", kPassword}, client_);
  ASSERT_TRUE(other);
  const auto other_id = stack_.store->users().findByUsername("rtother").value().value().id;
  const auto owner = stack_.cache.get(user_id_).value();
  const auto created = keys_a.create(*owner, stack_.policy.permissionsOf(owner->role),
                                     {"stalled", {}, {}}, std::nullopt, client_);
  ASSERT_TRUE(created);
  UserCache users_b(stack_.store->users());
  ApiKeyService keys_b(*stack_.store, stack_.policy, users_b, stack_.audit, stack_.clock);
  UserCache users_c(stack_.store->users());
  for (auto* cache : {&users_b, &users_c}) {
    ASSERT_TRUE(cache->sync());
    ASSERT_TRUE(cache->get(user_id_).value());
  }
  ASSERT_TRUE(keys_b.sync());
  ASSERT_TRUE(users_b.get(other_id).value()->is_active);
  ASSERT_TRUE(keys_b.authenticate(created->plaintext, client_));

  store::UserPatch off;
  off.is_active = false;
  ASSERT_TRUE(stack_.store->users().update(other_id, off, "admin"));
  ASSERT_TRUE(keys_a.revoke(user_id_, created->key.id, client_));
  ASSERT_TRUE(users_c.sync());
  // A day and ten minutes on: the two changes are a day old; the revoked key, unused since it
  // was made, stays until a day and an access-token lifetime have passed.
  stack_.clock.advance(86400 + 600);
  auto purged = purgeEnded(*stack_.store, now(), retention_);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(purged->changes, 2);
  EXPECT_EQ(purged->api_keys, 0);
  ASSERT_TRUE(stack_.store->apiKeys().findById(created->key.id).value());

  ASSERT_TRUE(users_b.sync());
  ASSERT_TRUE(keys_b.sync());
  EXPECT_EQ(users_b.size(), 0U);
  EXPECT_FALSE(users_b.get(other_id).value()->is_active);
  auto refused = keys_b.authenticate(created->plaintext, client_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::InvalidToken);
  // C heard of both changes when they were made: nothing to forget.
  ASSERT_TRUE(users_c.sync());
  EXPECT_EQ(users_c.size(), 1U);
}

}  // namespace
}  // namespace gatehouse::auth
