#include "state/local.hpp"

#include <gtest/gtest.h>

namespace gatehouse::state {
namespace {

using std::chrono::seconds;

TEST(LocalRateLimiter, CountsPerKeyInFixedWindows) {
  LocalRateLimiter limiter;
  const std::int64_t t = 1'800'000'040;  // 40 s into a wall-clock minute: windows are per key
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.hit("ip:1", 5, seconds(60), t).allowed);
  const auto refused = limiter.hit("ip:1", 5, seconds(60), t + 1);
  EXPECT_FALSE(refused.allowed);
  EXPECT_TRUE(refused.first_refusal);
  EXPECT_EQ(refused.retry_after, 59);
  const auto again = limiter.hit("ip:1", 5, seconds(60), t + 2);
  EXPECT_FALSE(again.allowed);
  EXPECT_FALSE(again.first_refusal);
  EXPECT_TRUE(limiter.hit("ip:2", 5, seconds(60), t).allowed);
  EXPECT_FALSE(limiter.hit("ip:1", 5, seconds(60), t + 20).allowed);  // no wall-clock reset
  EXPECT_FALSE(limiter.hit("ip:1", 5, seconds(60), t + 59).allowed);
  EXPECT_TRUE(limiter.hit("ip:1", 5, seconds(60), t + 60).allowed);  // the key's next window
}

TEST(LocalRateLimiter, StaysBoundedUnderManyKeys) {
  LocalRateLimiter limiter;
  for (int i = 0; i < 50000; ++i)
    limiter.hit("k" + std::to_string(i), 1, seconds(1), 1000 + i / 1000);
  // Nothing to assert on memory directly; keys of old windows must not block new ones.
  EXPECT_TRUE(limiter.hit("k1", 1, seconds(1), 5000).allowed);
}

TEST(LocalLoginGuard, DelaysGrowThenLockThenCoolDown) {
  LocalLoginGuard guard({.delay_after = 2, .max_delay = 8, .lock_after = 6, .cooldown = 100});
  std::int64_t t = 1000;
  EXPECT_EQ(guard.check("bob", t), Gate::Open);
  EXPECT_FALSE(guard.failed("bob", t));
  EXPECT_EQ(guard.check("bob", t), Gate::Open);
  EXPECT_FALSE(guard.failed("bob", t));  // 2nd failure: 1 s
  EXPECT_EQ(guard.check("bob", t), Gate::Delayed);
  EXPECT_EQ(guard.check("bob", t + 1), Gate::Open);
  EXPECT_FALSE(guard.failed("bob", t + 1));  // 3rd: 2 s
  EXPECT_EQ(guard.check("bob", t + 2), Gate::Delayed);
  EXPECT_EQ(guard.check("bob", t + 3), Gate::Open);
  EXPECT_FALSE(guard.failed("bob", t + 3));  // 4th: 4 s
  EXPECT_FALSE(guard.failed("bob", t + 7));  // 5th: 8 s (the cap)
  EXPECT_EQ(guard.check("bob", t + 14), Gate::Delayed);
  EXPECT_TRUE(guard.failed("bob", t + 15));  // 6th locks
  EXPECT_EQ(guard.check("bob", t + 50), Gate::Locked);
  EXPECT_EQ(guard.check("alice", t + 50), Gate::Open);
  EXPECT_EQ(guard.check("bob", t + 116), Gate::Open);  // cooled down, counting afresh
  EXPECT_FALSE(guard.failed("bob", t + 116));
  EXPECT_EQ(guard.check("bob", t + 116), Gate::Open);
}

TEST(LocalLoginGuard, SuccessResetsAndNoDelaysWhenDisabled) {
  LocalLoginGuard guard({.delay_after = 0, .max_delay = 8, .lock_after = 3, .cooldown = 100});
  guard.failed("x", 1);
  guard.failed("x", 1);
  EXPECT_EQ(guard.check("x", 1), Gate::Open);
  guard.succeeded("x");
  guard.failed("x", 2);
  guard.failed("x", 2);
  EXPECT_EQ(guard.check("x", 2), Gate::Open);
  EXPECT_TRUE(guard.failed("x", 2));
  EXPECT_EQ(guard.check("x", 3), Gate::Locked);
}

}  // namespace
}  // namespace gatehouse::state
