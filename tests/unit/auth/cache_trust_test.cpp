// The caches' trust window (auth/cache_trust.hpp): a user or API key cache whose change log has
// not been read for longer than its window answers from storage, not from memory it can no
// longer keep true, and keeps nothing until a read succeeds again.
#include "auth/cache_trust.hpp"

#include <thread>

#include <gtest/gtest.h>

#include "auth/api_keys.hpp"
#include "auth/user_cache.hpp"
#include "support/auth_stack.hpp"

namespace gatehouse::auth {
namespace {

using std::chrono::milliseconds;

constexpr const char* kPassword = "Passw0rd!x";

TEST(CacheTrust, UnlimitedUntilLimitedThenWithinTheWindowOfTheLastRead) {
  CacheTrust trust;
  EXPECT_TRUE(trust.trusted());
  trust.limit(milliseconds(1000));
  EXPECT_TRUE(trust.trusted());  // counted from its making
  std::this_thread::sleep_for(milliseconds(1100));
  EXPECT_FALSE(trust.trusted());
  trust.read(CacheTrust::now());
  EXPECT_TRUE(trust.trusted());
  trust.read(CacheTrust::now() - milliseconds(1100).count() * 1'000'000);  // begun 1.1 s ago
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
  cache.trustFor(milliseconds(1000));
  ASSERT_TRUE(cache.sync());
  ASSERT_TRUE(cache.get(owner_.id).value()->is_active);
  store::UserPatch off;
  off.is_active = false;
  ASSERT_TRUE(stack_.store->users().update(owner_.id, off, "admin"));
  // Within the window the cached row answers (the next read of the log would drop it).
  ASSERT_TRUE(cache.get(owner_.id, core::Wait::No).value()->is_active);
  // No read for longer: nothing from memory, on the I/O thread (WouldBlock) or off it (storage).
  std::this_thread::sleep_for(milliseconds(1100));
  const auto inline_answer = cache.get(owner_.id, core::Wait::No);
  ASSERT_FALSE(inline_answer);
  EXPECT_EQ(inline_answer.error().code, core::Errc::WouldBlock);
  EXPECT_FALSE(cache.get(owner_.id).value()->is_active);
  // and nothing kept meanwhile.
  EXPECT_FALSE(cache.get(owner_.id, core::Wait::No));
  // A read of the log again: trusted, and the change applied.
  ASSERT_TRUE(cache.sync());
  EXPECT_FALSE(cache.get(owner_.id).value()->is_active);
  EXPECT_FALSE(cache.get(owner_.id, core::Wait::No).value()->is_active);
}

TEST_F(CacheTrustTest, AKeyCacheNotReadForLongerThanItsWindowAnswersFromStorage) {
  UserCache users(stack_.store->users());
  ApiKeyService keys(*stack_.store, stack_.policy, users, stack_.audit, stack_.clock);
  keys.trustFor(milliseconds(1000));
  ASSERT_TRUE(users.sync());
  ASSERT_TRUE(keys.sync());
  auto made = keys.create(owner_, stack_.policy.permissionsOf(owner_.role),
                          {"trusted", std::nullopt, std::nullopt}, client_);
  ASSERT_TRUE(made);
  ASSERT_TRUE(keys.authenticate(made->plaintext, client_));  // cached, its use recorded
  // Revoked by another node: storage only.
  ASSERT_TRUE(stack_.store->apiKeys().revoke(made->key.id, owner_.id));
  EXPECT_TRUE(keys.authenticate(made->plaintext, client_, core::Wait::No));  // within the window
  std::this_thread::sleep_for(milliseconds(1100));
  const auto inline_answer = keys.authenticate(made->plaintext, client_, core::Wait::No);
  ASSERT_FALSE(inline_answer);
  EXPECT_EQ(inline_answer.error().code, Errc::WouldBlock);
  const auto refused = keys.authenticate(made->plaintext, client_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::InvalidToken);
}

}  // namespace
}  // namespace gatehouse::auth
