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

TEST(FetchCache, KeepsACopyAtLeastAMinuteWhateverTheProviderSays) {
  for (const std::int64_t lifetime : {std::int64_t{0}, std::int64_t{5}}) {
    Cache cache;
    Counting provider;
    provider.answer = std::pair{std::string("doc"), lifetime};
    EXPECT_EQ(cache.get(1000, false, provider.fetch()).value(), "doc");
    EXPECT_EQ(cache.get(1000 + Cache::kMinSeconds - 1, false, provider.fetch()).value(), "doc");
    EXPECT_EQ(provider.calls, 1) << lifetime;
    EXPECT_TRUE(cache.get(1000 + Cache::kMinSeconds, false, provider.fetch()));
    EXPECT_EQ(provider.calls, 2) << lifetime;
  }
  Cache cache;
  Counting provider;
  EXPECT_TRUE(cache.get(0, false, provider.fetch()));
  EXPECT_TRUE(cache.get(3599, false, provider.fetch()));
  EXPECT_EQ(provider.calls, 1);  // the provider's longer max-age holds
}

TEST(FetchCache, AFailureIsAnsweredAgainWithoutAskingForTenSeconds) {
  Cache cache;
  Counting provider;
  provider.answer = tl::unexpected(core::Error{core::Errc::Unavailable, "discovery answered 500"});
  for (int i = 0; i < 20; ++i) {
    auto got = cache.get(100 + i % Cache::kFailureSeconds, false, provider.fetch());
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().message, "discovery answered 500");
  }
  EXPECT_EQ(provider.calls, 1);
  provider.answer = std::pair{std::string("back"), std::int64_t{3600}};
  EXPECT_EQ(cache.get(100 + Cache::kFailureSeconds, false, provider.fetch()).value(), "back");
  EXPECT_EQ(provider.calls, 2);
}

TEST(FetchCache, WhileTheProviderFailsTheLastCopyIsAnswered) {
  Cache cache;
  Counting provider;
  provider.answer = std::pair{std::string("old"), std::int64_t{0}};
  EXPECT_TRUE(cache.get(0, false, provider.fetch()));
  provider.answer = tl::unexpected(core::Error{core::Errc::Unavailable, "down"});
  EXPECT_EQ(cache.get(Cache::kMinSeconds, false, provider.fetch()).value(), "old");
  EXPECT_EQ(cache.get(Cache::kMinSeconds + 1, false, provider.fetch()).value(), "old");
  EXPECT_EQ(provider.calls, 2);  // the failure is remembered: no fetch in its ten seconds
  EXPECT_EQ(cache.get(Cache::kMinSeconds + Cache::kFailureSeconds, false, provider.fetch()).value(),
            "old");
  EXPECT_EQ(provider.calls, 3);
}

TEST(FetchCache, ARefreshAsksAgainAtMostOncePerTenSeconds) {
  Cache cache;
  Counting provider;
  EXPECT_TRUE(cache.get(0, false, provider.fetch()));
  for (int i = 1; i < Cache::kRefreshSeconds; ++i)
    EXPECT_TRUE(cache.get(i, true, provider.fetch()));
  EXPECT_EQ(provider.calls, 1);
  EXPECT_TRUE(cache.get(Cache::kRefreshSeconds, true, provider.fetch()));
  EXPECT_EQ(provider.calls, 2);
}

TEST(FetchCache, OneFetchAtATimeOthersWaitForItOrTakeTheOldCopy) {
  Cache cache;
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
      if (cache.get(0, false, slow).value_or("") == "v1") ++got_first;
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
  std::thread refetch([&] { EXPECT_EQ(cache.get(Cache::kMinSeconds, false, slow).value(), "v2"); });
  while (calls.load() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(cache.get(Cache::kMinSeconds, false, slow).value(), "v1");
  EXPECT_EQ(calls.load(), 2);
  release = true;
  refetch.join();
  EXPECT_EQ(cache.get(Cache::kMinSeconds, false, slow).value(), "v2");
}

TEST(FetchCache, AFetchThatThrowsLetsTheNextOneRun) {
  Cache cache;
  EXPECT_THROW(cache.get(0, false, []() -> Got { throw std::bad_alloc(); }), std::bad_alloc);
  Counting provider;
  // Its failure is remembered as any other for a while, then a fetch runs again.
  EXPECT_FALSE(cache.get(1, false, provider.fetch()));
  EXPECT_TRUE(cache.get(Cache::kFailureSeconds, false, provider.fetch()));
  EXPECT_EQ(provider.calls, 1);
}

}  // namespace
}  // namespace gatehouse::oidc
