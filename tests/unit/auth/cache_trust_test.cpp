// The caches' trust window (auth/cache_trust.hpp): a user or API key cache whose change log has
// not been read for longer than its window answers from storage, not from memory it can no
// longer keep true, and from memory again once a read succeeds. Time is a manual monotonic clock.
#include "auth/cache_trust.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "auth/api_keys.hpp"
#include "auth/revocations.hpp"
#include "auth/user_cache.hpp"
#include "support/auth_stack.hpp"

namespace gatehouse::auth {
namespace {

using std::chrono::seconds;

constexpr const char* kPassword = "Passw0rd!x";

// The tests' monotonic clock, in steady_clock ticks.
std::atomic<std::int64_t> ticks{1'000'000'000'000};
std::int64_t manualNow() { return ticks.load(); }
void advance(seconds s) {
  ticks += std::chrono::duration_cast<CacheTrust::Steady::duration>(s).count();
}

TEST(CacheTrust, UnlimitedUntilLimitedThenWithinTheWindowOfTheLastRead) {
  CacheTrust trust;
  EXPECT_TRUE(trust.trusted());
  trust.limit(seconds(10), &manualNow);
  EXPECT_TRUE(trust.trusted());  // counted from the limit
  advance(seconds(10));
  EXPECT_TRUE(trust.trusted());
  advance(seconds(1));
  EXPECT_FALSE(trust.trusted());
  const auto started = trust.now();
  advance(seconds(3));  // a read that took three seconds
  trust.read(started);
  EXPECT_TRUE(trust.trusted());
  advance(seconds(8));
  EXPECT_FALSE(trust.trusted());  // eleven seconds after the read began
  trust.limit(seconds(0), &manualNow);
  EXPECT_TRUE(trust.trusted());  // a zero window: only the same instant
  advance(seconds(1));
  EXPECT_FALSE(trust.trusted());
}

class CacheTrustTest : public ::testing::Test {
 protected:
  CacheTrustTest() {
    EXPECT_TRUE(stack_.registerUser({"ct@example.com", "ctuser", kPassword}, client_));
    owner_ = *stack_.store->users().findByUsername("ctuser").value();
  }
  gatehouse::testing::AuthStack stack_{"cache-trust"};
  ClientInfo client_{"127.0.0.1", "a test", "req"};
  store::User owner_;
};

TEST_F(CacheTrustTest, AUserCacheNotReadForLongerThanItsWindowAnswersFromStorage) {
  // This node's cache, and a change made by another node (storage only: no invalidate here).
  UserCache cache(stack_.store->users());
  cache.trustFor(seconds(10), &manualNow);
  ASSERT_TRUE(cache.sync());
  ASSERT_TRUE(cache.get(owner_.id).value()->is_active);
  store::UserPatch off;
  off.is_active = false;
  ASSERT_TRUE(stack_.store->users().update(owner_.id, off, "admin"));
  // Within the window the cached row answers (the next read of the log would drop it).
  advance(seconds(10));
  ASSERT_TRUE(cache.get(owner_.id, core::Wait::No).value()->is_active);
  // No read for longer: nothing from memory, on the I/O thread (WouldBlock) or off it (storage).
  advance(seconds(1));
  const auto inline_answer = cache.get(owner_.id, core::Wait::No);
  ASSERT_FALSE(inline_answer);
  EXPECT_EQ(inline_answer.error().code, core::Errc::WouldBlock);
  EXPECT_FALSE(cache.get(owner_.id).value()->is_active);
  // A read of the log again: trusted, the change applied, and memory answers again.
  ASSERT_TRUE(cache.sync());
  EXPECT_FALSE(cache.get(owner_.id).value()->is_active);
  EXPECT_FALSE(cache.get(owner_.id, core::Wait::No).value()->is_active);
}

TEST_F(CacheTrustTest, AKeyCacheNotReadForLongerThanItsWindowAnswersFromStorage) {
  UserCache users(stack_.store->users());
  ApiKeyService keys(*stack_.store, stack_.policy, users, stack_.audit, stack_.clock);
  keys.trustFor(seconds(10), &manualNow);
  ASSERT_TRUE(users.sync());
  ASSERT_TRUE(keys.sync());
  auto made = keys.create(owner_, stack_.policy.permissionsOf(owner_.role),
                          {"trusted", std::nullopt, std::nullopt}, std::nullopt, client_);
  ASSERT_TRUE(made);
  ASSERT_TRUE(keys.authenticate(made->plaintext, client_));  // cached, its use recorded
  // Revoked by another node: storage only.
  ASSERT_TRUE(stack_.store->apiKeys().revoke(made->key.id, owner_.id));
  advance(seconds(10));
  EXPECT_TRUE(keys.authenticate(made->plaintext, client_, core::Wait::No));  // within the window
  advance(seconds(1));
  const auto inline_answer = keys.authenticate(made->plaintext, client_, core::Wait::No);
  ASSERT_FALSE(inline_answer);
  EXPECT_EQ(inline_answer.error().code, Errc::WouldBlock);
  const auto refused = keys.authenticate(made->plaintext, client_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::InvalidToken);
}

TEST_F(CacheTrustTest, AChangeAnotherNodeNamesIsDroppedBeforeTheLogIsReadAgain) {
  // Node A demotes the user and publishes what it changed; node B (this cache, with a log read
  // just done) must answer from storage from the message on, not from the row it holds until its
  // next read of the log.
  UserCache node_a(stack_.store->users());
  UserCache node_b(stack_.store->users());
  std::vector<std::string> published;
  node_a.onChange([&published](std::string_view m) { published.emplace_back(m); });
  ASSERT_TRUE(node_b.sync());
  ASSERT_EQ(node_b.get(owner_.id).value()->role, "user");
  store::UserPatch demote;
  demote.role = "moderator";
  ASSERT_TRUE(stack_.store->users().update(owner_.id, demote, "admin"));
  node_a.invalidate(owner_.id);
  ASSERT_EQ(published, std::vector<std::string>{UserCache::changeMessage(owner_.id)});
  EXPECT_EQ(node_b.get(owner_.id).value()->role, "user");  // not told yet: the cached row
  EXPECT_TRUE(node_b.applyMessage(published.front()));
  EXPECT_EQ(node_b.get(owner_.id).value()->role, "moderator");
  // Other messages, and malformed ones, are not this cache's.
  EXPECT_FALSE(node_b.applyMessage("changed"));
  EXPECT_FALSE(node_b.applyMessage("user-changed "));
  EXPECT_FALSE(node_b.applyMessage("user-changed 7x"));
  EXPECT_FALSE(node_b.applyMessage(ApiKeyService::changeMessage(owner_.id)));
  EXPECT_FALSE(node_b.applyMessage(RevocationList::message("jti", 10)));
}

TEST_F(CacheTrustTest, AKeyRevokedOnAnotherNodeIsDroppedWhenItsOwnerIsNamed) {
  UserCache users(stack_.store->users());
  ApiKeyService node_a(*stack_.store, stack_.policy, users, stack_.audit, stack_.clock);
  ApiKeyService node_b(*stack_.store, stack_.policy, users, stack_.audit, stack_.clock);
  std::vector<std::string> published;
  node_a.onChange([&published](std::string_view m) { published.emplace_back(m); });
  ASSERT_TRUE(users.sync());
  ASSERT_TRUE(node_b.sync());
  auto made = node_a.create(owner_, stack_.policy.permissionsOf(owner_.role),
                            {"two nodes", std::nullopt, std::nullopt}, std::nullopt, client_);
  ASSERT_TRUE(made);
  ASSERT_TRUE(node_b.authenticate(made->plaintext, client_));  // B caches it
  ASSERT_TRUE(node_a.revoke(owner_.id, made->key.id, client_));
  ASSERT_EQ(published, std::vector<std::string>{ApiKeyService::changeMessage(owner_.id)});
  EXPECT_TRUE(node_b.authenticate(made->plaintext, client_));  // not told yet
  EXPECT_TRUE(node_b.applyMessage(published.front()));
  const auto refused = node_b.authenticate(made->plaintext, client_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::InvalidToken);
  EXPECT_FALSE(node_b.applyMessage(UserCache::changeMessage(owner_.id)));
  EXPECT_FALSE(node_b.applyMessage("keys-changed -"));
}

TEST_F(CacheTrustTest, ABacklogOfSeveralPagesIsReadWholeBeforeTheCacheCountsAsRead) {
  // A node back from an outage: 10,000 changes of others, then one of this user, the 10,001st.
  // Trusted after one page, the cache would serve the user as it was until the next read.
  UserCache cache(stack_.store->users());
  cache.trustFor(seconds(10), &manualNow);
  ASSERT_TRUE(cache.sync());
  ASSERT_TRUE(cache.get(owner_.id).value()->is_active);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((stack_.dir / "t.db").c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db,
                         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
                         "10000) INSERT INTO user_changes (user_id, at) SELECT 999999, 0 FROM n",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  store::UserPatch off;
  off.is_active = false;
  ASSERT_TRUE(stack_.store->users().update(owner_.id, off, "admin"));
  ASSERT_TRUE(cache.sync());
  const auto inline_answer = cache.get(owner_.id, core::Wait::No);
  ASSERT_FALSE(inline_answer) << "the change on the second page was not applied";
  EXPECT_FALSE(cache.get(owner_.id).value()->is_active);
}

}  // namespace
}  // namespace gatehouse::auth
