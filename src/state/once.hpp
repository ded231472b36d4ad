#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.hpp"

namespace gatehouse::state {

// Short-lived single-use values (sign-in one-time codes, seen transaction states), shared by every
// node so a flow may continue on any of them. Keys should be digests, never secrets themselves.
// Implementations MUST be thread-safe; Unavailable when shared storage cannot be reached.
class OneTimeStore {
 public:
  virtual ~OneTimeStore() = default;
  // Stores `value` for `ttl` unless `key` is present; false when it was (a replay). Times are Unix
  // milliseconds: what `take` and `peek` compare with where the store's memory begins.
  [[nodiscard]] virtual core::Result<bool> putIfAbsent(std::string_view key, std::string_view value,
                                                       std::chrono::seconds ttl,
                                                       std::chrono::milliseconds now) = 0;
  // The value, removed in the same step (only one caller ever gets it); nullopt when absent,
  // expired, or stored before the store's memory begins: a Redis restarted from a snapshot older
  // than a take gives the taken value back, and an exchange code or mfa_token used once would
  // work again (found by an outside attack on spent challenges; the same holds for these).
  [[nodiscard]] virtual core::Result<std::optional<std::string>> take(
      std::string_view key, std::chrono::milliseconds now) = 0;
  // The value, left in place (a flow reading what its own single-use value is for, before the
  // step that takes it); nullopt when `take` would give none.
  [[nodiscard]] virtual core::Result<std::optional<std::string>> peek(
      std::string_view key, std::chrono::milliseconds now) = 0;
  // Marks `key` (what a one-time challenge or state was) spent for `ttl`: true the first time.
  // False when it was spent, and when the store cannot vouch that it was not: `issued_at` (when
  // that challenge was made) is before the store's memory begins. A restart of Redis without its
  // data, or of a node holding its own, forgot what was spent; a challenge from before it could
  // otherwise be presented once more (found by an outside attack). Times are Unix milliseconds:
  // in whole seconds, a restart within the second of a spend left that second open (a review).
  [[nodiscard]] virtual core::Result<bool> spend(std::string_view key, std::chrono::seconds ttl,
                                                 std::chrono::milliseconds issued_at,
                                                 std::chrono::milliseconds now) = 0;
  // Sets where the store's memory begins to `now`, unless it has begun already: at the start,
  // and after each reconnection to shared storage (which may have lost its data meanwhile).
  [[nodiscard]] virtual core::Status vouchFrom(std::chrono::milliseconds now) = 0;
};

// In process (one node). Expired entries are swept as the map doubles, so a flood costs amortised
// O(1) per call. At most `max_entries` live values are held: when that many are alive, a new one
// is refused (Unavailable, a 503 to its caller) rather than an older one dropped, which would let
// a spent state or code be replayed. Every caller is rate limited per client; this bounds a flood
// from many addresses. Each kind of value (its key up to the first ':': "state", "wa", "mfa",
// "code") holds at most a quarter of the places: a flood of spent sign-in states or passkey
// challenges from many addresses leaves a password sign-in's mfa_token room (found by an outside
// review: one kind could fill the store and stop every second step on the node).
class LocalOneTimeStore final : public OneTimeStore {
 public:
  explicit LocalOneTimeStore(std::size_t max_entries = 200000) : max_entries_(max_entries) {}
  [[nodiscard]] core::Result<bool> putIfAbsent(std::string_view key, std::string_view value,
                                               std::chrono::seconds ttl,
                                               std::chrono::milliseconds now) override;
  [[nodiscard]] core::Result<std::optional<std::string>> take(
      std::string_view key, std::chrono::milliseconds now) override;
  [[nodiscard]] core::Result<std::optional<std::string>> peek(
      std::string_view key, std::chrono::milliseconds now) override;
  [[nodiscard]] core::Result<bool> spend(std::string_view key, std::chrono::seconds ttl,
                                         std::chrono::milliseconds issued_at,
                                         std::chrono::milliseconds now) override;
  // The first call sets it (the process's memory begins with the process); later ones keep it.
  [[nodiscard]] core::Status vouchFrom(std::chrono::milliseconds now) override;
  // While closed, every call is Unavailable (a 503 to its caller): another node on the same
  // PostgreSQL serves one-time values from memory of its own, and a value spent there is not
  // spent here (app/roster_watch.hpp). Reopened, the memory begins again at `now`: what was stored
  // before is gone, and a challenge made before it is refused, as after a start.
  void close();
  void reopen(std::chrono::milliseconds now);
  // While open, refuses every call once the steady clock passes `until`, unless renewed before:
  // a node that could not confirm it still serves them (its look at the other nodes stalled, or
  // its place among them was lost unseen) stops on its own.
  void renew(std::chrono::steady_clock::time_point until);

 private:
  struct Entry {
    std::string value;
    std::chrono::milliseconds expires{0};
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, std::size_t> per_kind_;  // entries_ of each kind
  void forget(const std::string& key);                     // one fewer of its kind; under mutex_
  // putIfAbsent under mutex_, open.
  core::Result<bool> put(std::string_view key, std::string_view value, std::chrono::seconds ttl,
                         std::chrono::milliseconds now);
  std::size_t sweep_at_ = 1024;
  const std::size_t max_entries_;
  std::int64_t full_swept_at_ = -1;  // the second of the last sweep that left it full
  std::optional<std::chrono::milliseconds> since_;  // vouchFrom's first `now`
  bool shut() const;                                // closed, or past its lease; under mutex_
  bool closed_ = false;
  std::optional<std::chrono::steady_clock::time_point> lease_;  // renew()'s; none: no lease
};

}  // namespace gatehouse::state
