// One suite for the shared-state interfaces: in-process always; Redis when its URL is set.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/blocking.hpp"
#include "state/local.hpp"
#include "state/redis.hpp"
#include "state/redis_connection.hpp"

namespace gatehouse::state {
namespace {

using std::chrono::seconds;
using ms = std::chrono::milliseconds;

constexpr LockoutPolicy kGrowing{
    .delay_after = 2, .max_delay = 8, .lock_after = 6, .cooldown = 100};
constexpr LockoutPolicy kNoDelays{
    .delay_after = 0, .max_delay = 8, .lock_after = 3, .cooldown = 100};

class StateContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() != "local") {
      auto address = parseRedisUrl(GetParam());
      ASSERT_TRUE(address) << address.error().message;
      redis_ = std::make_unique<RedisClient>(*address);
    }
    // Keys unique to this run, so reruns against one Redis never see each other's counts.
    prefix_ = std::to_string(std::random_device{}()) + ":";
  }
  std::unique_ptr<RateLimiter> limiter() {
    if (!redis_) return std::make_unique<LocalRateLimiter>();
    return std::make_unique<RedisRateLimiter>(*redis_);
  }
  std::unique_ptr<LoginGuard> guard(LockoutPolicy policy) {
    if (!redis_) return std::make_unique<LocalLoginGuard>(policy);
    return std::make_unique<RedisLoginGuard>(*redis_, policy);
  }
  std::unique_ptr<OneTimeStore> once() {
    if (!redis_) return std::make_unique<LocalOneTimeStore>();
    return std::make_unique<RedisOneTimeStore>(*redis_);
  }
  std::string key(const std::string& name) const { return prefix_ + name; }

  std::unique_ptr<RedisClient> redis_;
  std::string prefix_;
};

TEST_P(StateContract, CountsPerKeyInWindowsOpenedByTheFirstHit) {
  auto l = limiter();
  const std::int64_t t = 1'800'000'040;  // 40 s into a wall-clock minute: windows are per key
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(l->hit(key("ip:1"), 5, seconds(60), t).value().allowed);
  const auto refused = l->hit(key("ip:1"), 5, seconds(60), t + 1).value();
  EXPECT_FALSE(refused.allowed);
  EXPECT_TRUE(refused.first_refusal);
  EXPECT_EQ(refused.retry_after, 59);
  const auto again = l->hit(key("ip:1"), 5, seconds(60), t + 2).value();
  EXPECT_FALSE(again.allowed);
  EXPECT_FALSE(again.first_refusal);
  EXPECT_TRUE(l->hit(key("ip:2"), 5, seconds(60), t).value().allowed);
  EXPECT_FALSE(l->hit(key("ip:1"), 5, seconds(60), t + 20).value().allowed);  // no wall-clock reset
  EXPECT_FALSE(l->hit(key("ip:1"), 5, seconds(60), t + 59).value().allowed);
  EXPECT_TRUE(
      l->hit(key("ip:1"), 5, seconds(60), t + 60).value().allowed);  // the key's next window
}

TEST_P(StateContract, AResetKeyStartsAFreshWindow) {
  auto l = limiter();
  const std::int64_t t = 1'800'000'000;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(l->hit(key("mfa:1"), 3, seconds(900), t).value().allowed);
  EXPECT_FALSE(l->hit(key("mfa:1"), 3, seconds(900), t).value().allowed);
  l->reset(key("mfa:2"));  // another key: nothing changes
  EXPECT_FALSE(l->hit(key("mfa:1"), 3, seconds(900), t).value().allowed);
  l->reset(key("mfa:1"));
  EXPECT_TRUE(l->hit(key("mfa:1"), 3, seconds(900), t + 1).value().allowed);
}

TEST_P(StateContract, ConcurrentHitsFromManyThreadsAllCount) {
  // Two limiters on one backend stand for two nodes: with Redis they share one count.
  auto a = limiter();
  auto b = redis_ ? limiter() : nullptr;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      RateLimiter& l = (b && i % 2 == 1) ? *b : *a;
      for (int j = 0; j < 25; ++j) {
        if (l.hit(key("shared"), 50, seconds(60), 1'800'000'000).value().allowed) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 50);
}

TEST_P(StateContract, StaysCorrectUnderManyKeys) {
  auto l = limiter();
  const int keys = redis_ ? 2000 : 50000;
  for (int i = 0; i < keys; ++i)
    ASSERT_TRUE(l->hit(key("k" + std::to_string(i)), 1, seconds(1), 1000 + i / 1000));
  // Keys of old windows must not block new ones.
  EXPECT_TRUE(l->hit(key("k1"), 1, seconds(1), 5000).value().allowed);
}

TEST_P(StateContract, RefusesOverlongKeys) {
  auto l = limiter();
  const std::string long_key = key(std::string(LocalRateLimiter::kMaxKeyBytes + 1, 'k'));
  EXPECT_FALSE(l->hit(long_key, 5, seconds(60), 1000));
  EXPECT_TRUE(l->hit(key(std::string(200, 'k')), 5, seconds(60), 1000));
}

// As for storage (the store contract): Redis is not waited on where waiting is forbidden. The
// in-process backends never wait, and may be used anywhere.
TEST_P(StateContract, ADebugBuildStopsARedisCallWhereWaitingIsForbidden) {
#ifdef NDEBUG
  GTEST_SKIP() << "assertions are off in this build";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto l = limiter();
  EXPECT_TRUE(l->hit(key("nowait"), 5, seconds(60), 1000));
  if (!redis_) {
    const core::NoWaitScope io_thread;
    EXPECT_TRUE(l->hit(key("nowait"), 5, seconds(60), 1000));
    return;
  }
  EXPECT_DEATH(
      {
        const core::NoWaitScope io_thread;
        (void)l->hit(key("nowait"), 5, seconds(60), 1000);
      },
      "Redis must not be waited on here");
#endif
}

TEST_P(StateContract, DelaysGrowThenLockThenCoolDown) {
  auto g = guard(kGrowing);
  const std::string bob = key("bob");
  std::int64_t t = 1000;
  EXPECT_EQ(g->check(bob, t).value(), Gate::Open);
  EXPECT_FALSE(g->failed(bob, t).value());
  EXPECT_EQ(g->check(bob, t).value(), Gate::Open);
  // Times are whole seconds: a delay of d seconds after a failure in second t lasts until the
  // start of second t + d + 1, so it is never shorter than d however late in t it began.
  EXPECT_FALSE(g->failed(bob, t).value());  // 2nd failure: 1 s
  EXPECT_EQ(g->check(bob, t).value(), Gate::Delayed);
  EXPECT_EQ(g->check(bob, t + 1).value(), Gate::Delayed);
  EXPECT_EQ(g->check(bob, t + 2).value(), Gate::Open);
  EXPECT_FALSE(g->failed(bob, t + 2).value());  // 3rd: 2 s
  EXPECT_EQ(g->check(bob, t + 4).value(), Gate::Delayed);
  EXPECT_EQ(g->check(bob, t + 5).value(), Gate::Open);
  EXPECT_FALSE(g->failed(bob, t + 5).value());   // 4th: 4 s
  EXPECT_FALSE(g->failed(bob, t + 10).value());  // 5th: 8 s (the cap)
  EXPECT_EQ(g->check(bob, t + 18).value(), Gate::Delayed);
  EXPECT_TRUE(g->failed(bob, t + 19).value());  // 6th locks
  EXPECT_EQ(g->check(bob, t + 50).value(), Gate::Locked);
  EXPECT_EQ(g->check(key("alice"), t + 50).value(), Gate::Open);
  EXPECT_EQ(g->check(bob, t + 120).value(), Gate::Open);  // cooled down, counting afresh
  EXPECT_FALSE(g->failed(bob, t + 120).value());
  EXPECT_EQ(g->check(bob, t + 120).value(), Gate::Open);
}

TEST_P(StateContract, AnAttemptCountsBeforeItsCheckAndSuccessUndoesIt) {
  auto g = guard(kGrowing);
  const std::string bob = key("bob");
  const std::int64_t t = 1000;
  const auto at = [&](std::int64_t when) { return g->attempt(bob, when).value(); };
  EXPECT_EQ(at(t).gate, Gate::Open);
  EXPECT_EQ(at(t).gate, Gate::Open);         // the 2nd: a delay of 1 s follows
  EXPECT_EQ(at(t + 1).gate, Gate::Delayed);  // refused, not counted
  EXPECT_EQ(at(t + 1).until, t + 2);         // and when it opens
  EXPECT_EQ(at(t + 2).gate, Gate::Open);     // the 3rd
  g->succeeded(bob);                         // it was the right password: all undone
  EXPECT_EQ(at(t + 2).gate, Gate::Open);
  EXPECT_EQ(at(t + 2).gate, Gate::Open);  // the 2nd again
  EXPECT_EQ(at(t + 3).gate, Gate::Delayed);
  // On to the 6th, which locks, and says so once.
  std::int64_t when = t + 4;
  for (int counted = 3; counted < 6; ++counted) {
    Attempt a = at(when);
    while (a.gate == Gate::Delayed) a = at(++when);
    ASSERT_EQ(a.gate, Gate::Open);
    EXPECT_FALSE(a.locked) << counted;
  }
  Attempt last = at(when);
  while (last.gate == Gate::Delayed) last = at(++when);
  EXPECT_EQ(last.gate, Gate::Open);
  EXPECT_TRUE(last.locked);
  EXPECT_EQ(at(when + 1).gate, Gate::Locked);
  EXPECT_FALSE(at(when + 1).locked);
  EXPECT_EQ(at(when + 1).until, when + 100);  // kGrowing's cooldown
}

TEST_P(StateContract, ConcurrentAttemptsPassTheGateNoMoreOftenThanTheDelaysAllow) {
  // Found by an outside attack: checked first and counted after the hash, every attempt arriving
  // while one was hashed passed the open gate (26 real guesses where the delays allowed 7).
  auto g = guard(kGrowing);
  const std::string target = key("target");
  std::atomic<int> open{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      if (auto a = g->attempt(target, 5000); a && a->gate == Gate::Open) ++open;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(open.load(), 2);  // kGrowing: delays from the 2nd failure
}

TEST_P(StateContract, SuccessResetsAndNoDelaysWhenDisabled) {
  auto g = guard(kNoDelays);
  const std::string x = key("x");
  (void)g->failed(x, 1);
  (void)g->failed(x, 1);
  EXPECT_EQ(g->check(x, 1).value(), Gate::Open);
  g->succeeded(x);
  (void)g->failed(x, 2);
  (void)g->failed(x, 2);
  EXPECT_EQ(g->check(x, 2).value(), Gate::Open);
  EXPECT_TRUE(g->failed(x, 2).value());
  EXPECT_EQ(g->check(x, 3).value(), Gate::Locked);
}

TEST_P(StateContract, BusDeliversToEveryNodeAndIsLiveOnlyAfterResync) {
  // Two buses on one backend stand for two nodes.
  std::unique_ptr<Bus> a;
  std::unique_ptr<Bus> b;
  if (redis_) {
    const std::string channel = "gatehouse:test:" + prefix_;
    a = std::make_unique<RedisBus>(*redis_, channel);
    b = std::make_unique<RedisBus>(*redis_, channel);
  } else {
    a = std::make_unique<LocalBus>();
  }
  std::mutex mutex;
  std::vector<std::string> got_a;
  std::vector<std::string> got_b;
  std::atomic<int> resyncs{0};
  const auto collect = [&mutex](std::vector<std::string>& into) {
    return [&mutex, &into](std::string_view m) {
      const std::lock_guard lock(mutex);
      into.emplace_back(m);
    };
  };
  a->start(collect(got_a), [&resyncs] { return ++resyncs > 0; });
  if (b) b->start(collect(got_b), [&resyncs] { return ++resyncs > 0; });
  // The wait ends with the first attempt; a retry (Redis briefly busy) may take a moment more.
  (void)a->awaitFirstAttempt(std::chrono::seconds(30));
  if (b) (void)b->awaitFirstAttempt(std::chrono::seconds(30));
  for (int i = 0; i < 100 && !(a->live() && (!b || b->live())); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(a->live());
  if (b) {
    ASSERT_TRUE(b->live());
    EXPECT_EQ(resyncs.load(), 2);  // each node re-read storage before going live
  }
  ASSERT_TRUE(a->publish("revoked 1800000000 jti-1"));
  for (int i = 0; i < 100; ++i) {
    {
      const std::lock_guard lock(mutex);
      if (!got_a.empty() && (!b || !got_b.empty())) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::lock_guard lock(mutex);
  EXPECT_EQ(got_a, std::vector<std::string>{"revoked 1800000000 jti-1"});
  if (b) {
    EXPECT_EQ(got_b, std::vector<std::string>{"revoked 1800000000 jti-1"});
  }
}

TEST_P(StateContract, OneTimeValuesAreTakenOnceAndRefuseReplays) {
  auto o = once();
  const ms now{1'800'000'000'000};
  if (redis_) {
    ASSERT_TRUE(redis_->command({"DEL", "gatehouse:once:epoch"}));
  }
  ASSERT_TRUE(o->vouchFrom(now));  // as each node does at its start
  ASSERT_TRUE(o->putIfAbsent(key("code"), "42 google", seconds(60), now).value());
  EXPECT_FALSE(o->putIfAbsent(key("code"), "7 evil", seconds(60), now).value());  // replay
  EXPECT_EQ(o->peek(key("code"), now + ms(1)).value(), "42 google");  // read, left in place
  EXPECT_EQ(o->peek(key("code"), now + ms(1)).value(), "42 google");
  EXPECT_EQ(o->take(key("code"), now + ms(1)).value(), "42 google");
  EXPECT_FALSE(o->peek(key("code"), now + ms(1)).value());
  EXPECT_FALSE(o->take(key("code"), now + ms(1)).value());  // single use
  EXPECT_FALSE(o->take(key("never"), now).value());
  // A value may hold anything, the separator of the stored time included.
  ASSERT_TRUE(o->putIfAbsent(key("colons"), ":1:{\"a\":2}", seconds(60), now).value());
  EXPECT_EQ(o->take(key("colons"), now + ms(1)).value(), ":1:{\"a\":2}");
  // Many takers racing for one value: exactly one gets it.
  ASSERT_TRUE(o->putIfAbsent(key("race"), "v", seconds(60), now).value());
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (o->take(key("race"), now).value()) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

// Found by an outside attack: a passkey challenge was marked spent in Redis alone, and after Redis
// restarted without its data the same assertion signed in again. A challenge made before the
// store's memory began is refused; a store that lost its memory begins it again.
TEST_P(StateContract, ChallengesFromBeforeTheStoresMemoryAreRefused) {
  const ms t{2'000'000'000'000};
  auto o = once();
  if (redis_) {
    ASSERT_TRUE(redis_->command({"DEL", "gatehouse:once:epoch"}));
  }
  ASSERT_TRUE(o->vouchFrom(t));
  ASSERT_TRUE(o->vouchFrom(t + ms(50)));  // never moved on: it had begun
  EXPECT_FALSE(o->spend(key("early"), seconds(60), t - ms(1), t + ms(1)).value());
  EXPECT_TRUE(o->spend(key("c"), seconds(60), t, t + ms(1)).value());
  EXPECT_FALSE(o->spend(key("c"), seconds(60), t, t + ms(2)).value());  // a replay
  // The memory is lost: Redis restarted empty, or the node (its own store) restarted.
  if (redis_) {
    ASSERT_TRUE(redis_->command({"DEL", "gatehouse:once:epoch", "gatehouse:once:" + key("c")}));
  } else {
    o = once();
  }
  // Nobody told it where its memory begins: the first spend says so, and refuses the replay.
  EXPECT_FALSE(o->spend(key("c"), seconds(60), t, t + ms(10)).value());
  EXPECT_FALSE(o->spend(key("late"), seconds(60), t + ms(9), t + ms(10)).value());
  ASSERT_TRUE(o->vouchFrom(t + ms(30)));  // a resync later keeps it
  EXPECT_TRUE(o->spend(key("new"), seconds(60), t + ms(10), t + ms(11)).value());
  EXPECT_FALSE(o->spend(key("new"), seconds(60), t + ms(10), t + ms(12)).value());
  if (!redis_) return;
  // Redis restarted from a snapshot (or failed over): the epoch is there, naming the process
  // that wrote it, and the markers spent since are not. The next check moves it on, never back.
  ASSERT_TRUE(redis_->command({"HSET", "gatehouse:once:epoch", "run", "a-process-before"}));
  ASSERT_TRUE(redis_->command({"DEL", "gatehouse:once:" + key("new")}));
  ASSERT_TRUE(o->vouchFrom(t + ms(40)));
  EXPECT_FALSE(o->spend(key("new"), seconds(60), t + ms(10), t + ms(41)).value());
  EXPECT_TRUE(o->spend(key("newer"), seconds(60), t + ms(40), t + ms(41)).value());
  ASSERT_TRUE(o->vouchFrom(t + ms(20)));  // the same process: the epoch stays at t + ms(40)
  EXPECT_FALSE(o->spend(key("mid"), seconds(60), t + ms(30), t + ms(41)).value());
}

// The one-time store on the test's Redis, its epoch deleted and set again at `t`, and a key prefix
// unique to the run. Redis only: what a restart from a snapshot leaves is written by hand.
class RedisOneTimeStoreEpoch : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("GATEHOUSE_TEST_REDIS_URL");
    if (url == nullptr || *url == '\0') GTEST_SKIP() << "GATEHOUSE_TEST_REDIS_URL is not set";
    auto address = parseRedisUrl(url);
    ASSERT_TRUE(address);
    redis_ = std::make_unique<RedisClient>(*address);
    once_ = std::make_unique<RedisOneTimeStore>(*redis_);
    ASSERT_TRUE(redis_->command({"DEL", "gatehouse:once:epoch"}));
    ASSERT_TRUE(once_->vouchFrom(t));
  }
  // Far ahead of the clock, so no earlier test's epoch is later.
  const ms t{2'200'000'000'000};
  const std::string k = std::to_string(std::random_device{}()) + ":k";
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<RedisOneTimeStore> once_;
};

// Redis restarted from a snapshot between two spends, with no node resynced yet: the spend's own
// script finds the epoch written by another Redis process and moves it on (found by a review).
TEST_F(RedisOneTimeStoreEpoch, EachSpendChecksWhichRedisProcessSetTheEpoch) {
  RedisClient& redis = *redis_;
  RedisOneTimeStore& o = *once_;
  ASSERT_TRUE(o.spend(k, seconds(60), t, t + ms(1)).value());
  ASSERT_TRUE(redis.command({"HSET", "gatehouse:once:epoch", "run", "a-process-before"}));
  ASSERT_TRUE(redis.command({"DEL", "gatehouse:once:" + k}));
  EXPECT_FALSE(o.spend(k, seconds(60), t, t + ms(5)).value());
  EXPECT_TRUE(o.spend(k + "2", seconds(60), t + ms(5), t + ms(6)).value());
  EXPECT_FALSE(o.spend(k + "3", seconds(60), t + ms(4), t + ms(7)).value());
}

// A value taken once (an external sign-in's exchange code, an mfa_token) came back when Redis
// restarted from a snapshot taken between its storing and its taking: it is refused, as a spent
// challenge is, by the take's own script and by a peek.
TEST_F(RedisOneTimeStoreEpoch, EachTakeChecksWhichRedisProcessSetTheEpoch) {
  RedisClient& redis = *redis_;
  RedisOneTimeStore& o = *once_;
  ASSERT_TRUE(o.putIfAbsent(k, "42 google", seconds(60), t + ms(1)).value());
  ASSERT_TRUE(o.putIfAbsent(k + "2", "7 google", seconds(60), t + ms(1)).value());
  EXPECT_EQ(o.peek(k, t + ms(2)).value(), "42 google");
  // The restart from the snapshot: the epoch names a process before this one.
  ASSERT_TRUE(redis.command({"HSET", "gatehouse:once:epoch", "run", "a-process-before"}));
  EXPECT_FALSE(o.take(k, t + ms(5)).value());
  EXPECT_FALSE(o.peek(k + "2", t + ms(6)).value());
  EXPECT_FALSE(o.take(k + "2", t + ms(6)).value());
  // Stored after the epoch moved: taken as ever.
  ASSERT_TRUE(o.putIfAbsent(k + "3", "9 google", seconds(60), t + ms(7)).value());
  EXPECT_EQ(o.take(k + "3", t + ms(8)).value(), "9 google");
  // Stored by an older version (no time): refused, never read as a value.
  ASSERT_TRUE(redis.command({"SET", "gatehouse:once:" + k + "4", "42 google", "EX", "60"}));
  EXPECT_FALSE(o.take(k + "4", t + ms(9)).value());
  // Stored first thing after a restart, before any other script moved the epoch: the put moves
  // it, and its own take finds the value (found by a review: it was refused).
  ASSERT_TRUE(redis.command({"HSET", "gatehouse:once:epoch", "run", "a-process-before"}));
  ASSERT_TRUE(o.putIfAbsent(k + "5", "5 google", seconds(60), t + ms(20)).value());
  EXPECT_EQ(o.take(k + "5", t + ms(21)).value(), "5 google");
  // Stored by a node whose clock runs behind the epoch's: stored at the epoch, not before it.
  ASSERT_TRUE(o.putIfAbsent(k + "6", "6 google", seconds(60), t + ms(3)).value());
  EXPECT_EQ(o.take(k + "6", t + ms(22)).value(), "6 google");
  // A restart whose first script comes from a node whose clock is behind what was stored, or at
  // the epoch a value was stamped with: the epoch moves past the highest time stored, kept in
  // the same snapshot as the values (a second review: both came back).
  ASSERT_TRUE(o.putIfAbsent(k + "7", "7 google", seconds(60), t + ms(30)).value());
  ASSERT_TRUE(redis.command({"HSET", "gatehouse:once:epoch", "run", "a-process-before"}));
  EXPECT_FALSE(o.take(k + "7", t + ms(25)).value());
  ASSERT_TRUE(o.putIfAbsent(k + "8", "8 google", seconds(60), t + ms(10)).value());  // at the epoch
  ASSERT_TRUE(redis.command({"HSET", "gatehouse:once:epoch", "run", "a-process-before"}));
  EXPECT_FALSE(o.take(k + "8", t + ms(31)).value());
}

TEST(LocalRateLimiter, StaysBoundedUnderASprayOfLiveKeys) {
  LocalRateLimiter l(1600);  // 100 per shard
  const std::int64_t t = 1'000'000;
  // A key hit early, refused, must keep its count while others come and go only if it is among
  // the newest: eviction takes the windows closest to their end first.
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(l.hit("victim", 5, seconds(3600), t + 3000).value().allowed);
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(l.hit("spray:" + std::to_string(i), 5, seconds(60), t + i / 100).value().allowed);
    ASSERT_LE(l.size(), 1600U);
  }
  EXPECT_FALSE(l.hit("victim", 5, seconds(3600), t + 3001).value().allowed);
}

TEST(LocalLoginGuard, ASprayOfDelayedIdentifiersForgetsThoseWithFewestFailuresFirst) {
  // Found by a review of the stores: past its cap, every unlocked entry was forgotten at once, so
  // identifiers each failed into a delay reset the count of an account being guessed at.
  LocalLoginGuard g(kGrowing, 100);
  const std::int64_t t = 1'000'000;
  for (int i = 0; i < 4; ++i) ASSERT_FALSE(g.failed("victim", t + i * 10).value());
  for (int i = 0; i < 1000; ++i) {
    const std::string name = "spray:" + std::to_string(i);
    ASSERT_FALSE(g.failed(name, t + 100).value());
    ASSERT_FALSE(g.failed(name, t + 100).value());  // delayed (kGrowing: from the 2nd)
  }
  // The victim's four failures were kept: its 6th locks.
  EXPECT_FALSE(g.failed("victim", t + 200).value());
  EXPECT_TRUE(g.failed("victim", t + 300).value());
  EXPECT_EQ(g.check("victim", t + 301).value(), Gate::Locked);
  // A locked entry stays whatever comes after it.
  for (int i = 0; i < 1000; ++i) {
    const std::string name = "later:" + std::to_string(i);
    for (int k = 0; k < 5; ++k) ASSERT_FALSE(g.failed(name, t + 310).value());
  }
  EXPECT_EQ(g.check("victim", t + 320).value(), Gate::Locked);  // its cooldown: 100 s
}

// An outside attack: eviction took the windows closest to their end, the oldest, so a spray of
// one-hit keys aimed at a victim's shard forgot its spent budget within the hour (ten reset mails
// an hour against a limit of five). Two reviews: by hits and then the newest, spent keys opened
// before the victim's, or spent under a higher limit, still pushed it out. Spent budgets now stay
// until their windows end (a shard may hold twice its share of them).
TEST(LocalRateLimiter, ASprayForgetsNoSpentBudget) {
  LocalRateLimiter l(1600);  // 100 per shard
  const std::int64_t t = 1'000'000;
  // Spent before the victim's window opens, under its limit and under a higher one.
  for (int i = 0; i < 1700; ++i) {  // more than a shard's share: room is made among spent ones
    const std::string key = "early:" + std::to_string(i);
    for (int k = 0; k < 6; ++k) (void)l.hit(key, 5, seconds(3600), t).value();
  }
  for (int i = 0; i < 200; ++i) {
    const std::string key = "wide:" + std::to_string(i);
    for (int k = 0; k < 31; ++k) (void)l.hit(key, 30, seconds(3600), t).value();
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(l.hit("victim", 5, seconds(3600), t + 1).value().allowed);
  ASSERT_FALSE(l.hit("victim", 5, seconds(3600), t + 1).value().allowed);
  // Then a spray of keys short of their limits, one hit or four.
  for (int i = 0; i < 20000; ++i) {
    const std::string key = "spray:" + std::to_string(i);
    for (int k = 0; k < 1 + (i % 2) * 3; ++k)
      ASSERT_TRUE(l.hit(key, 5, seconds(3600), t + 2).value().allowed);
    ASSERT_LE(l.size(), 3200U);  // at most twice the share
  }
  EXPECT_FALSE(l.hit("victim", 5, seconds(3600), t + 3).value().allowed);
  // Short of its limit, the most used share stays: four of five against one-hit keys.
  LocalRateLimiter small(160);  // 10 per shard
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(small.hit("busy", 5, seconds(3600), t).value().allowed);
  for (int i = 0; i < 2000; ++i) {
    (void)small.hit("more:" + std::to_string(i), 5, seconds(3600), t + 1).value();
    ASSERT_LE(small.size(), 160U);  // nothing spent: within the share
  }
  EXPECT_TRUE(small.hit("busy", 5, seconds(3600), t + 2).value().allowed);
  EXPECT_FALSE(small.hit("busy", 5, seconds(3600), t + 2).value().allowed);
  // Markers (a notice's "first of its kind", spent at their first hit) are not kept as spent
  // budgets are: a spray of them neither fills a shard past its share nor pushes out a counter
  // short of its limit (a review). A budget an operator set to one is kept like any other.
  LocalRateLimiter marks(160);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(marks.hit("busy", 5, seconds(3600), t).value().allowed);
  ASSERT_TRUE(marks.hit("one-an-hour", 1, seconds(3600), t).value().allowed);
  for (int i = 0; i < 2000; ++i) {
    const std::string key = std::string(RateLimiter::kMarkerPrefix) + std::to_string(i);
    (void)marks.hit(key, 1, seconds(3600), t + 1).value();
    ASSERT_LE(marks.size(), 160U);
  }
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(marks.hit("busy", 5, seconds(3600), t + 2).value().allowed);
  EXPECT_FALSE(marks.hit("busy", 5, seconds(3600), t + 2).value().allowed);
  EXPECT_FALSE(marks.hit("one-an-hour", 1, seconds(3600), t + 2).value().allowed);
}

// Spent budgets past twice a shard's share are forgotten at random, so memory stays bounded
// whatever a spray spends; and a shard full of them makes room once per eighth of new keys.
TEST(LocalRateLimiter, SpentBudgetsAreBoundedAtTwiceTheShare) {
  LocalRateLimiter l(160);  // 10 per shard
  const std::int64_t t = 1'000'000;
  for (int i = 0; i < 3000; ++i) {
    const std::string key = "spent:" + std::to_string(i);
    for (int k = 0; k < 3; ++k) (void)l.hit(key, 2, seconds(3600), t).value();
    ASSERT_LE(l.size(), 320U);
  }
  EXPECT_GT(l.size(), 160U);  // past the share: spent ones are kept while they may be
}

TEST(LocalRateLimiter, ExpiredWindowsAreSweptFirst) {
  LocalRateLimiter l(160);
  for (int i = 0; i < 10000; ++i)
    ASSERT_TRUE(l.hit(std::to_string(i), 1, seconds(1), i).value().allowed);
  EXPECT_LE(l.size(), 160U);
}

// Unix seconds as the store's milliseconds.
constexpr ms at(std::int64_t unix_seconds) { return ms(unix_seconds * 1000); }

TEST(LocalOneTimeStore, ExpiredValuesAreGoneAndSweptUnderFloods) {
  LocalOneTimeStore o;
  ASSERT_TRUE(o.putIfAbsent("a", "1", seconds(10), at(100)).value());
  EXPECT_FALSE(o.take("a", at(110)).value());  // expired
  ASSERT_TRUE(o.putIfAbsent("b", "1", seconds(10), at(100)).value());
  EXPECT_TRUE(o.putIfAbsent("b", "2", seconds(10), at(111)).value());  // the old one had expired
  for (int i = 0; i < 20000; ++i)
    ASSERT_TRUE(o.putIfAbsent(std::to_string(i), "x", seconds(1), at(200 + i)));
  EXPECT_EQ(o.take("19999", at(20199)).value(), "x");
}

TEST(LocalOneTimeStore, ABoundedNumberLiveAtOnceAndNoneDroppedForANewOne) {
  // A flood from many addresses (each under its rate limit) must neither grow memory without end
  // nor push out a spent value, which would let it be replayed.
  LocalOneTimeStore o(100);
  const auto key = [](int i) {
    return std::string("abcd").substr(i % 4, 1) + ":" + std::to_string(i);
  };
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(o.putIfAbsent(key(i), "x", seconds(60), at(1000)).value());
  const auto full = o.putIfAbsent("e:one-more", "x", seconds(60), at(1000));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, core::Errc::Unavailable);
  EXPECT_FALSE(o.putIfAbsent(key(7), "x", seconds(60), at(1001)).value());  // still a replay
  EXPECT_EQ(o.take(key(99), at(1001)).value(), "x");                        // taking frees a place
  EXPECT_TRUE(o.putIfAbsent("e:one-more", "x", seconds(60), at(1001)).value());
  // Once they expire, the places come back.
  EXPECT_TRUE(o.putIfAbsent("e:later", "x", seconds(60), at(1061)).value());
}

TEST(LocalOneTimeStore, OneKindHoldsAQuarterAndLeavesTheOthersRoom) {
  // Found by an outside review: spent sign-in states from many addresses (each under its rate
  // limit) filled the store, and every password sign-in's second step on the node got a 503.
  LocalOneTimeStore o(100);
  ASSERT_TRUE(o.vouchFrom(at(0)));
  for (int i = 0; i < 25; ++i)
    ASSERT_TRUE(o.spend("state:" + std::to_string(i), seconds(600), at(999), at(1000)).value());
  const auto more = o.spend("state:more", seconds(600), at(999), at(1000));
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error().code, core::Errc::Unavailable);
  EXPECT_FALSE(o.spend("state:3", seconds(600), at(999), at(1001)).value());  // still a replay
  ASSERT_FALSE(o.putIfAbsent("state:other", "x", seconds(60), at(1001)));
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(o.putIfAbsent("mfa:" + std::to_string(i), "u", seconds(300), at(1001)).value());
    ASSERT_TRUE(o.spend("wa:" + std::to_string(i), seconds(60), at(1000), at(1001)).value());
  }
  EXPECT_FALSE(o.putIfAbsent("mfa:25", "u", seconds(300), at(1001)));
  ASSERT_TRUE(o.putIfAbsent("code:1", "7 local", seconds(60), at(1001)).value());
  // Taking one gives its kind the place back; expiring ones do too (swept at most once a second).
  EXPECT_EQ(o.take("mfa:4", at(1002)).value(), "u");
  EXPECT_TRUE(o.putIfAbsent("mfa:25", "u", seconds(300), at(1002)).value());
  EXPECT_FALSE(o.spend("wa:more", seconds(60), at(1000), at(1002)));
  EXPECT_TRUE(o.spend("wa:more", seconds(60), at(1000), at(1062)).value());
  for (int i = 0; i < 24; ++i)  // the expired ones' places, up to the quarter again
    ASSERT_TRUE(o.spend("wa:new" + std::to_string(i), seconds(60), at(1061), at(1062)).value());
  EXPECT_FALSE(o.spend("wa:new24", seconds(60), at(1061), at(1062)));
  EXPECT_TRUE(o.spend("state:more", seconds(600), at(999), at(1601)).value());
}

TEST(LocalOneTimeStore, ClosedRefusesEverythingAndReopensWithFreshMemory) {
  // A node without Redis standing aside for another (app/roster_watch.hpp): nothing it held may
  // be taken or spent while the other serves, nor after, when the other may have spent it.
  LocalOneTimeStore o;
  ASSERT_TRUE(o.vouchFrom(at(100)));
  ASSERT_TRUE(o.putIfAbsent("code", "v", seconds(300), at(100)).value());
  ASSERT_TRUE(o.spend("challenge", seconds(300), at(100), at(101)).value());
  o.close();
  for (const auto& refused :
       {o.putIfAbsent("new", "v", seconds(300), at(102)).error(), o.take("code", at(102)).error(),
        o.peek("code", at(102)).error(), o.spend("other", seconds(300), at(101), at(102)).error()})
    EXPECT_EQ(refused.code, core::Errc::Unavailable);
  o.reopen(at(200));
  EXPECT_FALSE(o.take("code", at(201)).value());  // gone with the memory before
  // A challenge made before the reopening is refused; one made after spends once.
  EXPECT_FALSE(o.spend("fresh", seconds(300), at(150), at(201)).value());
  EXPECT_TRUE(o.spend("fresh", seconds(300), at(200), at(201)).value());
  EXPECT_FALSE(o.spend("fresh", seconds(300), at(200), at(202)).value());
  EXPECT_FALSE(o.spend("challenge", seconds(300), at(100), at(202)).value());
  // A lease: past it, every call is refused until it is renewed; the memory stays.
  ASSERT_TRUE(o.putIfAbsent("kept", "v", seconds(300), at(203)).value());
  o.renew(std::chrono::steady_clock::now() - std::chrono::milliseconds(1));
  EXPECT_EQ(o.peek("kept", at(204)).error().code, core::Errc::Unavailable);
  EXPECT_EQ(o.spend("late", seconds(300), at(203), at(204)).error().code, core::Errc::Unavailable);
  o.renew(std::chrono::steady_clock::now() + std::chrono::hours(1));
  EXPECT_EQ(o.take("kept", at(205)).value(), "v");
}

TEST(RedisUrl, ParsesHostPortCredentialsAndDatabase) {
  auto a = parseRedisUrl("redis://:s3cret@10.0.0.5:6380/2").value();
  EXPECT_EQ(a.host, "10.0.0.5");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.password, "s3cret");
  EXPECT_EQ(a.db, 2);
  auto b = parseRedisUrl("redis://gate:pw@cache").value();
  EXPECT_EQ(b.user, "gate");
  EXPECT_EQ(b.port, 6379);
  EXPECT_EQ(b.host, "cache");
  const auto tls = parseRedisUrl("rediss://:pw@cache.example.com:6380/1").value();
  EXPECT_TRUE(tls.tls);
  EXPECT_EQ(tls.host, "cache.example.com");
  EXPECT_EQ(tls.port, 6380);
  EXPECT_EQ(tls.db, 1);
  EXPECT_FALSE(parseRedisUrl("redis://cache").value().tls);
  EXPECT_FALSE(parseRedisUrl("http://cache"));
  EXPECT_FALSE(parseRedisUrl("redis://cache:99999"));
  EXPECT_FALSE(parseRedisUrl("redis://cache/x"));
}

TEST(RedisDown, EveryOperationFailsClosedAsUnavailable) {
  // Nothing listens on port 1: each call must report Unavailable, never "allowed" or "open".
  RedisClient redis({.host = "127.0.0.1", .port = 1}, std::chrono::milliseconds(200));
  RedisRateLimiter limiter(redis);
  RedisLoginGuard guard(redis, kGrowing);
  auto hit = limiter.hit("k", 5, seconds(60), 1);
  ASSERT_FALSE(hit);
  EXPECT_EQ(hit.error().code, core::Errc::Unavailable);
  ASSERT_FALSE(guard.check("k", 1));
  EXPECT_EQ(guard.check("k", 1).error().code, core::Errc::Unavailable);
  EXPECT_FALSE(guard.failed("k", 1));
  RedisBus bus(redis, "c");
  EXPECT_FALSE(bus.publish("x"));
  bus.start([](std::string_view) {}, [] { return true; });
  // The first attempt fails: the wait ends then, long before its limit, and the bus is not live.
  const auto waited_from = std::chrono::steady_clock::now();
  EXPECT_FALSE(bus.awaitFirstAttempt(std::chrono::seconds(60)));
  EXPECT_LT(std::chrono::steady_clock::now() - waited_from, std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // through a retry: still down
  EXPECT_FALSE(bus.live());
}

// The Redis the run started (scripts/services.sh), or "" when there is none.
std::string testRedisUrl() {
  const char* url = std::getenv("GATEHOUSE_TEST_REDIS_URL");  // NOLINT(concurrency-mt-unsafe)
  return url != nullptr ? url : "";
}

TEST(RedisDown, AFailedResyncEndsTheFirstAttemptWithoutGoingLive) {
  // Redis may answer while the database behind the resync does not: not live, and no waiting.
  const std::string url = testRedisUrl();
  if (url.empty()) GTEST_SKIP() << "GATEHOUSE_TEST_REDIS_URL is not set";
  auto address = parseRedisUrl(url);
  ASSERT_TRUE(address);
  RedisClient redis(*address);
  RedisBus bus(redis, "gatehouse:test:resync-fails");
  std::atomic<int> resyncs{0};
  bus.start([](std::string_view) {}, [&resyncs] { return ++resyncs < 0; });
  const auto waited_from = std::chrono::steady_clock::now();
  EXPECT_FALSE(bus.awaitFirstAttempt(std::chrono::seconds(60)));
  EXPECT_LT(std::chrono::steady_clock::now() - waited_from, std::chrono::seconds(30));
  EXPECT_GE(resyncs.load(), 1);
  EXPECT_FALSE(bus.live());
}

TEST(RedisPool, AnIdleConnectionRedisClosedIsNotUsedForTheNextCommand) {
  // An outside attack restarted Redis: the first request after it answered 503 on a pooled
  // connection Redis had closed.
  const std::string url = testRedisUrl();
  if (url.empty()) GTEST_SKIP() << "GATEHOUSE_TEST_REDIS_URL is not set";
  auto address = parseRedisUrl(url);
  ASSERT_TRUE(address);
  RedisClient redis(*address);
  auto id = redis.command({"CLIENT", "ID"});  // the connection then idle in the pool
  ASSERT_TRUE(id) << id.error().message;
  auto admin = RedisConnection::open(*address, std::chrono::milliseconds(2000));
  ASSERT_TRUE(admin) << admin.error().message;
  // That connection alone: every client of the server was once killed, another suite's too.
  auto killed =
      (*admin)->command({"CLIENT", "KILL", "ID", std::to_string(id->integer), "SKIPME", "yes"});
  ASSERT_TRUE(killed) << killed.error().message;
  ASSERT_EQ(killed->integer, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the close reaches this side
  auto after = redis.command({"PING"});
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->text, "PONG");
}

std::vector<std::string> backends() {
  std::vector<std::string> out{"local"};
  if (auto url = testRedisUrl(); !url.empty()) out.push_back(std::move(url));
  return out;
}

std::string backendName(const ::testing::TestParamInfo<std::string>& param) {
  return param.param == "local" ? "local" : "redis";
}

INSTANTIATE_TEST_SUITE_P(Backends, StateContract, ::testing::ValuesIn(backends()), backendName);

}  // namespace
}  // namespace gatehouse::state
