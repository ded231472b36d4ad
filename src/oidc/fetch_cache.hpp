#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace gatehouse::oidc {

// One document a provider serves (its discovery, its JWKS), shared by every request that needs
// it, so that a slow, failing or no-store provider costs one outbound call at a time, not one per
// request (found by an outside attack: twenty sign-in starts against a discovery answering in
// 6 s with no-store held the whole storage pool and fetched it twenty times). The rules:
// - a copy is kept kMinSeconds at least, whatever the provider's Cache-Control says;
// - one fetch at a time: meanwhile others get the copy it replaces, or wait for its answer when
//   there is none yet (the callers run on the outbound lane, a few per provider: OidcService);
// - a failure is remembered for kFailureSeconds from its end (a fetch that hung until the HTTP
//   timeout counts from then): meanwhile the last copy is answered when there is one and it
//   expired less than kStaleSeconds ago (stale beats nothing while the provider is down, but a
//   key set from before an emergency rotation is not trusted for ever), else the failure, without
//   asking;
// - a refresh (a kid not in the keys) asks again at most once per kRefreshSeconds.
// Times come from `clock` when each is needed: after a wait or a fetch, not before.
// Thread-safe; the fetch runs without the lock.
template <class T>
class FetchCache {
 public:
  static constexpr std::int64_t kMinSeconds = 60;
  static constexpr std::int64_t kFailureSeconds = 10;
  static constexpr std::int64_t kRefreshSeconds = 10;
  static constexpr std::int64_t kStaleSeconds = 24 * 3600;
  // The document and how long the provider lets it be kept (seconds, 0 for no-store).
  using Fetch = std::function<core::Result<std::pair<T, std::int64_t>>()>;

  explicit FetchCache(const core::Clock& clock) : clock_(clock) {}

  core::Result<T> get(bool refresh, const Fetch& fetch) {
    {
      std::unique_lock lock(mutex_);
      for (;;) {
        const std::int64_t now = clock_.unixSeconds();
        const bool recent = fetched_ && now - fetched_at_ < kRefreshSeconds;
        if (value_ && ((now < until_ && !refresh) || (refresh && recent))) return *value_;
        const bool usable = value_ && now - until_ < kStaleSeconds;
        if (failure_ && now < failure_until_) {
          if (usable) return *value_;
          return tl::unexpected(*failure_);
        }
        if (!fetching_) break;
        if (usable) return *value_;  // stale, while the fetch under way replaces it
        const std::uint64_t seen = generation_;
        done_.wait(lock, [&] { return generation_ != seen; });
        refresh = false;  // the fetch that just ended is as fresh as any
      }
      fetching_ = true;
    }
    core::Result<std::pair<T, std::int64_t>> got =
        tl::unexpected(core::Error{core::Errc::Internal, "fetch did not run"});
    try {
      got = fetch();
    } catch (...) {
      finish(tl::unexpected(core::Error{core::Errc::Internal, "fetch threw"}));
      throw;
    }
    return finish(std::move(got));
  }

 private:
  core::Result<T> finish(core::Result<std::pair<T, std::int64_t>> got) {
    const std::lock_guard lock(mutex_);
    const std::int64_t now = clock_.unixSeconds();
    fetching_ = false;
    ++generation_;
    fetched_ = true;
    fetched_at_ = now;
    done_.notify_all();
    if (!got) {
      failure_ = got.error();
      failure_until_ = now + kFailureSeconds;
      if (value_ && now - until_ < kStaleSeconds) return *value_;
      return tl::unexpected(got.error());
    }
    failure_.reset();
    value_ = std::move(got->first);
    until_ = now + std::max(got->second, kMinSeconds);
    return *value_;
  }

  const core::Clock& clock_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::optional<T> value_;
  std::int64_t until_ = 0;
  std::optional<core::Error> failure_;
  std::int64_t failure_until_ = 0;
  bool fetching_ = false;
  bool fetched_ = false;
  std::int64_t fetched_at_ = 0;
  std::uint64_t generation_ = 0;
};

}  // namespace gatehouse::oidc
