// The provider documents' cache: how often a provider is asked, whatever it answers and however
// many requests want the document at once.
#include "oidc/fetch_cache.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace gatehouse::oidc {
namespace {

using Cache = FetchCache<std::string>;
using Got = core::Result<std::pair<std::string, std::int64_t>>;

struct Counting {
  int calls = 0;
  Got answer = std::pair{std::string("doc"), std::int64_t{3600}};
  Cache::Fetch fetch() {
    return [this]() -> Got {
      ++calls;
      return answer;
    };
  }
};

class FetchCacheTest : public testing::Test {
 protected:
  // The cache's answer at `when` (seconds from 0).
  core::Result<std::string> at(std::int64_t when, bool refresh, const Cache::Fetch& fetch) {
    clock.set(when);
    return cache.get(refresh, fetch);
  }
  core::ManualClock clock{0};
  Cache cache{clock};
};

TEST_F(FetchCacheTest, KeepsACopyAtLeastAMinuteWhateverTheProviderSays) {
  for (const std::int64_t lifetime : {std::int64_t{0}, std::int64_t{5}}) {
    Cache fresh(clock);
    Counting provider;
    provider.answer = std::pair{std::string("doc"), lifetime};
    clock.set(1000);
    EXPECT_EQ(fresh.get(false, provider.fetch()).value(), "doc");
    clock.set(1000 + Cache::kMinSeconds - 1);
    EXPECT_EQ(fresh.get(false, provider.fetch()).value(), "doc");
    EXPECT_EQ(provider.calls, 1) << lifetime;
    clock.set(1000 + Cache::kMinSeconds);
    EXPECT_TRUE(fresh.get(false, provider.fetch()));
    EXPECT_EQ(provider.calls, 2) << lifetime;
  }
  Counting provider;
  EXPECT_TRUE(at(0, false, provider.fetch()));
  EXPECT_TRUE(at(3599, false, provider.fetch()));
  EXPECT_EQ(provider.calls, 1);  // the provider's longer max-age holds
}

TEST_F(FetchCacheTest, AFailureIsAnsweredAgainWithoutAskingForTenSeconds) {
  Counting provider;
  provider.answer = tl::unexpected(core::Error{core::Errc::Unavailable, "discovery answered 500"});
  for (int i = 0; i < 20; ++i) {
    auto got = at(100 + i % Cache::kFailureSeconds, false, provider.fetch());
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().message, "discovery answered 500");
  }
  EXPECT_EQ(provider.calls, 1);
  provider.answer = std::pair{std::string("back"), std::int64_t{3600}};
  EXPECT_EQ(at(100 + Cache::kFailureSeconds, false, provider.fetch()).value(), "back");
  EXPECT_EQ(provider.calls, 2);
}

// Found by a review: a fetch that hung until the HTTP timeout (10 s) was remembered from its
// start, so its ten seconds were over when it ended and every next request hung again.
TEST_F(FetchCacheTest, AFailureCountsFromTheEndOfItsFetch) {
  int calls = 0;
  const Cache::Fetch hangs = [&]() -> Got {
    ++calls;
    clock.advance(10);  // the HTTP timeout
    return tl::unexpected(core::Error{core::Errc::Unavailable, "timed out"});
  };
  EXPECT_FALSE(at(0, false, hangs));
  EXPECT_EQ(clock.unixSeconds(), 10);
  clock.set(10 + Cache::kFailureSeconds - 1);
  EXPECT_FALSE(cache.get(false, hangs));
  EXPECT_EQ(calls, 1);
}

TEST_F(FetchCacheTest, WhileTheProviderFailsTheLastCopyIsAnsweredForADay) {
  Counting provider;
  provider.answer = std::pair{std::string("old"), std::int64_t{0}};
  EXPECT_TRUE(at(0, false, provider.fetch()));
  provider.answer = tl::unexpected(core::Error{core::Errc::Unavailable, "down"});
  EXPECT_EQ(at(Cache::kMinSeconds, false, provider.fetch()).value(), "old");
  EXPECT_EQ(at(Cache::kMinSeconds + 1, false, provider.fetch()).value(), "old");
  EXPECT_EQ(provider.calls, 2);  // the failure is remembered: no fetch in its ten seconds
  EXPECT_EQ(at(Cache::kMinSeconds + Cache::kFailureSeconds, false, provider.fetch()).value(),
            "old");
  EXPECT_EQ(provider.calls, 3);
  // A day after it expired, a copy is no longer trusted: the failure is answered.
  auto late = at(Cache::kMinSeconds + Cache::kStaleSeconds, false, provider.fetch());
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().message, "down");
}

TEST_F(FetchCacheTest, ARefreshAsksAgainAtMostOncePerTenSeconds) {
  Counting provider;
  EXPECT_TRUE(at(0, false, provider.fetch()));
  for (int i = 1; i < Cache::kRefreshSeconds; ++i) EXPECT_TRUE(at(i, true, provider.fetch()));
  EXPECT_EQ(provider.calls, 1);
  EXPECT_TRUE(at(Cache::kRefreshSeconds, true, provider.fetch()));
  EXPECT_EQ(provider.calls, 2);
}

TEST_F(FetchCacheTest, OneFetchAtATimeOthersWaitForItOrTakeTheOldCopy) {
  std::atomic<int> calls{0};
  std::atomic<bool> release{false};
  const Cache::Fetch slow = [&]() -> Got {
    ++calls;
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return std::pair{std::string("v") + std::to_string(calls.load()), std::int64_t{0}};
  };
  // None yet: others wait for the one fetch and get its answer.
  std::vector<std::thread> threads;
  std::atomic<int> got_first{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (cache.get(false, slow).value_or("") == "v1") ++got_first;
    });
  }
  while (calls.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(calls.load(), 1);
  release = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(got_first.load(), 8);
  EXPECT_EQ(calls.load(), 1);
  // Expired, one refetch under way: the others get the old copy at once.
  release = false;
  clock.set(Cache::kMinSeconds);
  std::thread refetch([&] { EXPECT_EQ(cache.get(false, slow).value(), "v2"); });
  while (calls.load() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(cache.get(false, slow).value(), "v1");
  EXPECT_EQ(calls.load(), 2);
  release = true;
  refetch.join();
  EXPECT_EQ(cache.get(false, slow).value(), "v2");
}

TEST_F(FetchCacheTest, AFetchThatThrowsLetsTheNextOneRun) {
  EXPECT_THROW(at(0, false, []() -> Got { throw std::bad_alloc(); }), std::bad_alloc);
  Counting provider;
  // Its failure is remembered as any other for a while, then a fetch runs again.
  EXPECT_FALSE(at(1, false, provider.fetch()));
  EXPECT_TRUE(at(Cache::kFailureSeconds, false, provider.fetch()));
  EXPECT_EQ(provider.calls, 1);
}

}  // namespace
}  // namespace gatehouse::oidc
