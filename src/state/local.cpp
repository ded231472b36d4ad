#include "state/local.hpp"

#include <algorithm>
#include <functional>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "state/once.hpp"

namespace gatehouse::state {

LocalRateLimiter::LocalRateLimiter(std::size_t max_keys)
    : per_shard_(std::max<std::size_t>(8, max_keys / kShards)) {
  std::random_device seed;
  for (auto& shard : shards_) shard.tags = (std::uint64_t{seed()} << 32U) ^ std::uint64_t{seed()};
}

std::uint64_t LocalRateLimiter::Shard::nextTag() {
  // splitmix64: no client sees a tag, so none can foresee the order among equals.
  std::uint64_t z = (tags += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31U);
}

std::size_t LocalRateLimiter::size() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    const std::lock_guard lock(shard.mutex);
    n += shard.windows.size();
  }
  return n;
}

void LocalRateLimiter::reset(std::string_view key) {
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  const std::lock_guard lock(shard.mutex);
  if (auto it = shard.windows.find(key); it != shard.windows.end()) shard.windows.erase(it);
}

void LocalRateLimiter::makeRoom(Shard& shard, std::int64_t now) const {
  std::erase_if(shard.windows,
                [now](const auto& kv) { return kv.second.start + kv.second.length <= now; });
  // Down to seven eighths, so each pass over the shard makes room for an eighth of it (a review:
  // a sweep that freed one expired window skipped this, and every new key after scanned the
  // whole shard again).
  const std::size_t drop = std::max<std::size_t>(1, per_shard_ / 8);
  // A marker is no budget to keep: each is spent at its first hit (a notice's "first of its
  // kind"), and kept they would fill the share and push out every counter short of its limit (a
  // review). A budget an operator set to one is a budget like any other (a second review).
  const auto spent = [](const Window& w) { return !w.marker && w.count >= w.limit; };
  // Budgets not spent go first: the least used share of its limit, then by the random tag. By
  // end, the oldest went first: a spray of one-hit keys into the shard of a victim's counter
  // (std::hash is anyone's to compute) forgot a spent mailbox budget within its hour (an outside
  // attack); by hits and then the newest, a spray of spent keys opened before the victim's, or
  // of a rule with a higher limit, still did, and a fresh counter went after an eighth of a
  // shard of new keys (two reviews).
  const auto evict = [&shard](std::size_t excess, auto&& eligible, auto&& rank) {
    using Rank = decltype(rank(std::declval<const Window&>()));
    std::vector<Rank> ranks;
    for (const auto& [k, w] : shard.windows) {
      if (eligible(w)) ranks.push_back(rank(w));
    }
    excess = std::min(excess, ranks.size());
    if (excess == 0) return;
    std::nth_element(ranks.begin(), ranks.begin() + static_cast<std::ptrdiff_t>(excess - 1),
                     ranks.end());
    const Rank cutoff = ranks[excess - 1];
    // Those below the cutoff all go, then those at it until `excess` have.
    std::size_t dropped = std::erase_if(shard.windows, [&](const auto& kv) {
      return eligible(kv.second) && rank(kv.second) < cutoff;
    });
    std::erase_if(shard.windows, [&](const auto& kv) {
      if (dropped >= excess || !eligible(kv.second) || rank(kv.second) != cutoff) return false;
      ++dropped;
      return true;
    });
  };
  const std::size_t target = per_shard_ - drop;
  if (shard.windows.size() > target) {
    evict(
        shard.windows.size() - target, [&](const Window& w) { return !spent(w); },
        [](const Window& w) {
          // A marker goes first: its loss costs its owner one more count.
          const double used = w.marker
                                  ? 0.0
                                  : static_cast<double>(w.count) /
                                        static_cast<double>(std::max<std::uint32_t>(w.limit, 1));
          return std::pair{used, w.tag};
        });
  }
  // Spent budgets past twice the share: by the random tag alone.
  const std::size_t most = 2 * per_shard_ - drop;
  if (shard.windows.size() > most) {
    evict(shard.windows.size() - most, spent, [](const Window& w) { return w.tag; });
  }
  shard.sweep_at = std::max<std::size_t>(1024, shard.windows.size() * 2);
  // Full of spent budgets, the next pass waits for an eighth more: never a scan per new key.
  shard.full_at = shard.windows.size() + drop;
}

core::Result<Decision> LocalRateLimiter::hit(std::string_view key, std::uint32_t limit,
                                             std::chrono::seconds window, std::int64_t now) {
  if (key.size() > kMaxKeyBytes)
    return core::makeError(core::Errc::InvalidArgument, "rate-limit key too long");
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  const std::lock_guard lock(shard.mutex);
  const bool is_new = shard.windows.find(key) == shard.windows.end();
  if (is_new && (shard.windows.size() >= shard.sweep_at ||
                 shard.windows.size() >= std::max(per_shard_, shard.full_at))) {
    makeRoom(shard, now);
  }
  const std::int64_t length = window.count();
  Window& w = shard.windows[std::string(key)];
  // A window opens at a key's first hit and lasts `length` (as slowapi's storage expires a counter
  // `length` after creating it), so a burst never straddles a boundary that resets it midway.
  // A tag per window, drawn anew when one reopens: a client cannot keep a key whose tag it
  // learned survives (a review).
  if (is_new || w.length != length || now >= w.start + length)
    w = Window{now, length, 0, limit, shard.nextTag(), key.starts_with(kMarkerPrefix)};
  w.limit = limit;
  const std::int64_t start = w.start;
  if (w.count >= limit) {
    const bool first = w.count == limit;
    if (first) ++w.count;  // count one refusal so only the first is reported as such
    return Decision{false, std::max<std::int64_t>(1, start + length - now), first};
  }
  ++w.count;
  return Decision{true, 0, false};
}

// Bounds memory under a spray of identifiers. Idle unlocked entries go first, then those not yet
// delayed. Still full (a spray within the day, each identifier failed into a delay), the unlocked
// entries with the fewest failures go (the oldest first among equals) until an eighth of the
// places is free: an account someone is guessing at holds more failures than a sprayed one, and
// a spray must give each of its identifiers as many to push it out. (Forgetting every unlocked
// entry at once, as before, reset a delay after 100,000 identifiers delayed, however many
// failures it held: a review of the stores.) Locked entries stay: each took lock_after failures,
// which the rate limits pace.
void LocalLoginGuard::makeRoom(std::int64_t now) {
  std::erase_if(entries_, [now](const auto& kv) {
    return !kv.second.locked && kv.second.last_failure + 86400 < now;
  });
  if (entries_.size() < max_entries_) return;
  std::erase_if(entries_, [this](const auto& kv) {
    return !kv.second.locked && kv.second.failures < policy_.delay_after;
  });
  if (entries_.size() < max_entries_) return;
  std::vector<std::pair<std::uint32_t, std::int64_t>> unlocked;  // failures, last failure
  for (const auto& [name, e] : entries_)
    if (!e.locked) unlocked.emplace_back(e.failures, e.last_failure);
  const std::size_t keep = max_entries_ - std::max<std::size_t>(1, max_entries_ / 8);
  const std::size_t locked = entries_.size() - unlocked.size();
  if (unlocked.empty() || locked >= keep) {
    std::erase_if(entries_, [](const auto& kv) { return !kv.second.locked; });
    return;
  }
  std::size_t drop = std::min(unlocked.size(), entries_.size() - keep);
  std::nth_element(unlocked.begin(), unlocked.begin() + static_cast<std::ptrdiff_t>(drop - 1),
                   unlocked.end());
  const auto cutoff = unlocked[drop - 1];
  std::erase_if(entries_, [&](const auto& kv) {
    const auto& e = kv.second;
    if (drop == 0 || e.locked || std::pair(e.failures, e.last_failure) > cutoff) return false;
    --drop;
    return true;
  });
}

core::Result<Gate> LocalLoginGuard::check(std::string_view account, std::int64_t now) {
  const std::lock_guard lock(mutex_);
  return gate(account, now);
}

core::Result<bool> LocalLoginGuard::failed(std::string_view account, std::int64_t now) {
  const std::lock_guard lock(mutex_);
  return fail(account, now);
}

core::Result<Attempt> LocalLoginGuard::attempt(std::string_view account, std::int64_t now) {
  const std::lock_guard lock(mutex_);
  const Gate g = gate(account, now);
  if (g != Gate::Open) {
    const auto it = entries_.find(std::string(account));  // there while not open
    return Attempt{g, false, it != entries_.end() ? it->second.blocked_until : now + 1};
  }
  return Attempt{Gate::Open, fail(account, now)};
}

Gate LocalLoginGuard::gate(std::string_view account, std::int64_t now) {
  auto it = entries_.find(std::string(account));
  if (it == entries_.end()) return Gate::Open;
  Entry& e = it->second;
  if (e.locked) {
    if (now < e.blocked_until) return Gate::Locked;
    entries_.erase(it);  // cooled down: start afresh
    return Gate::Open;
  }
  return now < e.blocked_until ? Gate::Delayed : Gate::Open;
}

bool LocalLoginGuard::fail(std::string_view account, std::int64_t now) {
  if (entries_.size() >= max_entries_ && !entries_.contains(std::string(account))) makeRoom(now);
  Entry& e = entries_[std::string(account)];
  ++e.failures;
  e.last_failure = now;
  if (e.failures >= policy_.lock_after) {
    e.locked = true;
    e.blocked_until = now + policy_.cooldown;
    return true;
  }
  if (policy_.delay_after > 0 && e.failures >= policy_.delay_after) {
    const std::uint32_t steps = std::min<std::uint32_t>(e.failures - policy_.delay_after, 30);
    // Whole seconds: "until the start of second now + delay + 1" waits at least `delay`, where
    // now + delay could be a few milliseconds away.
    e.blocked_until = now + std::min<std::int64_t>(std::int64_t{1} << steps, policy_.max_delay) + 1;
  }
  return false;
}

void LocalLoginGuard::succeeded(std::string_view account) {
  const std::lock_guard lock(mutex_);
  entries_.erase(std::string(account));
}

}  // namespace gatehouse::state

namespace gatehouse::state {
namespace {

tl::unexpected<core::Error> closedError() {
  return core::makeError(core::Errc::Unavailable,
                         "one-time values: another node on this database serves them");
}

// A key's kind is what comes before its first ':' (none: "").
std::string kindOf(std::string_view key) {
  const auto colon = key.find(':');
  return colon == std::string_view::npos ? std::string() : std::string(key.substr(0, colon));
}

}  // namespace

void LocalOneTimeStore::forget(const std::string& key) {
  const auto kind = per_kind_.find(kindOf(key));
  if (kind != per_kind_.end() && --kind->second == 0) per_kind_.erase(kind);
}

core::Result<bool> LocalOneTimeStore::putIfAbsent(std::string_view key, std::string_view value,
                                                  std::chrono::seconds ttl,
                                                  std::chrono::milliseconds now) {
  const std::lock_guard lock(mutex_);
  if (shut()) return closedError();
  return put(key, value, ttl, now);
}

core::Result<bool> LocalOneTimeStore::put(std::string_view key, std::string_view value,
                                          std::chrono::seconds ttl, std::chrono::milliseconds now) {
  const std::int64_t second = std::chrono::floor<std::chrono::seconds>(now).count();
  std::string kind = kindOf(key);
  const auto crowded = [&] {
    const auto held = per_kind_.find(kind);
    return entries_.size() >= max_entries_ ||
           (held != per_kind_.end() && held->second >= std::max<std::size_t>(1, max_entries_ / 4));
  };
  // Full, it sweeps at most once a second: a flood keeping it full costs no scan per call.
  if (entries_.size() >= sweep_at_ || (crowded() && second != full_swept_at_)) {
    std::erase_if(entries_, [this, now](const auto& kv) {
      if (kv.second.expires > now) return false;
      forget(kv.first);
      return true;
    });
    sweep_at_ = std::max<std::size_t>(1024, entries_.size() * 2);
    if (crowded()) full_swept_at_ = second;
  }
  std::string name(key);
  if (const auto it = entries_.find(name); it != entries_.end()) {
    if (it->second.expires > now) return false;
    it->second = Entry{std::string(value), now + ttl};  // in the place of an expired one
    return true;
  }
  if (crowded())
    return core::makeError(core::Errc::Unavailable,
                           "one-time values: the node holds the most of kind '" + kind + "'");
  entries_.emplace(std::move(name), Entry{std::string(value), now + ttl});
  ++per_kind_[std::move(kind)];
  return true;
}

core::Result<bool> LocalOneTimeStore::spend(std::string_view key, std::chrono::seconds ttl,
                                            std::chrono::milliseconds issued_at,
                                            std::chrono::milliseconds now) {
  // One lock from the check to the mark: a reopen() between them cleared what was spent and
  // moved since_, and the mark then accepted a challenge from before it (a review of the stores).
  const std::lock_guard lock(mutex_);
  if (shut()) return closedError();
  if (!since_) since_ = now;  // never told: vouch from here on
  if (issued_at < *since_) return false;
  return put(key, "1", ttl, now);
}

core::Status LocalOneTimeStore::vouchFrom(std::chrono::milliseconds now) {
  const std::lock_guard lock(mutex_);
  if (!since_) since_ = now;
  return {};
}

void LocalOneTimeStore::close() {
  const std::lock_guard lock(mutex_);
  closed_ = true;
}

void LocalOneTimeStore::reopen(std::chrono::milliseconds now) {
  const std::lock_guard lock(mutex_);
  entries_.clear();
  per_kind_.clear();
  sweep_at_ = 1024;
  full_swept_at_ = -1;
  since_ = now;
  closed_ = false;
}

void LocalOneTimeStore::renew(std::chrono::steady_clock::time_point until) {
  const std::lock_guard lock(mutex_);
  lease_ = until;
}

bool LocalOneTimeStore::shut() const {
  return closed_ || (lease_ && std::chrono::steady_clock::now() > *lease_);
}

// The process's memory is the store's: nothing stored survives it, so nothing stored predates
// where it begins.
core::Result<std::optional<std::string>> LocalOneTimeStore::take(std::string_view key,
                                                                 std::chrono::milliseconds now) {
  const std::lock_guard lock(mutex_);
  if (shut()) return closedError();
  const auto it = entries_.find(std::string(key));
  if (it == entries_.end()) return std::optional<std::string>{};
  Entry entry = std::move(it->second);
  forget(it->first);
  entries_.erase(it);  // single use, even when late
  if (entry.expires <= now) return std::optional<std::string>{};
  return std::optional<std::string>(std::move(entry.value));
}

core::Result<std::optional<std::string>> LocalOneTimeStore::peek(std::string_view key,
                                                                 std::chrono::milliseconds now) {
  const std::lock_guard lock(mutex_);
  if (shut()) return closedError();
  const auto it = entries_.find(std::string(key));
  if (it == entries_.end() || it->second.expires <= now) return std::optional<std::string>{};
  return std::optional<std::string>(it->second.value);
}

}  // namespace gatehouse::state
