#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::state {

struct Decision {
  bool allowed = true;
  std::int64_t retry_after = 0;  // seconds until the key may try again (when refused)
  bool first_refusal = false;    // the first refusal in this window (audit it once)
};

// Fixed-window request counters ("N per window" as the seed's LOGIN_RATE_LIMIT says); a key's
// window opens at its first hit.
// Implementations MUST be thread-safe; with several nodes they must share counts (Redis).
// Unavailable when the shared counters cannot be reached: callers refuse (fail closed).
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Counts one hit on `key` at `now` (Unix seconds) against `limit` per `window`.
  [[nodiscard]] virtual core::Result<Decision> hit(std::string_view key, std::uint32_t limit,
                                                   std::chrono::seconds window,
                                                   std::int64_t now) = 0;
  // Forgets `key`'s window (a second factor that succeeded: a user's own sign-ins never add up
  // to a refusal, while every guess still counts before it is checked). Best effort.
  virtual void reset(std::string_view key) = 0;
  // A key starting with this is a marker (a notice's "first of its kind"), hit with a limit of
  // one: no budget to keep when room is made (LocalRateLimiter forgets markers first).
  static constexpr std::string_view kMarkerPrefix = "mark:";
};

// Consecutive failed password logins per account (NIST SP 800-63B §5.2.2): growing delays after a
// few failures, and a lock for a cooling period once `lock_after` failures pile up. Keyed by the
// normalised identifier the client typed, so unknown and known accounts behave the same.
struct LockoutPolicy {
  std::uint32_t delay_after = 5;   // failures before delays begin (0 = no delays)
  std::int64_t max_delay = 60;     // seconds; delays double up to this
  std::uint32_t lock_after = 100;  // consecutive failures that lock password login
  std::int64_t cooldown = 3600;    // seconds the lock lasts
};

enum class Gate {
  Open,     // verify the password
  Delayed,  // too soon after a failure: refuse without counting
  Locked,   // cooling period after too many failures
};

// Implementations MUST be thread-safe. Unavailable when shared state cannot be reached.
// What attempt() decided: the gate, and whether the attempt, counted, locked the account.
struct Attempt {
  Gate gate = Gate::Open;
  bool locked = false;
  // Delayed or Locked: the second (Unix time) the gate opens, for a Retry-After that says it.
  std::int64_t until = 0;
};

class LoginGuard {
 public:
  virtual ~LoginGuard() = default;
  [[nodiscard]] virtual core::Result<Gate> check(std::string_view account, std::int64_t now) = 0;
  // Records a failure; returns true when this failure locked the account.
  [[nodiscard]] virtual core::Result<bool> failed(std::string_view account, std::int64_t now) = 0;
  // check() and, when the gate is open, failed() in one step: a password check counts as a
  // failure before its hash is paid for, and succeeded() undoes it. Checked first and counted
  // after, every attempt arriving while one was being hashed (on any node) passed the open gate:
  // 26 guesses where the delays allowed 7 (found by an outside attack).
  [[nodiscard]] virtual core::Result<Attempt> attempt(std::string_view account,
                                                      std::int64_t now) = 0;
  // Best effort: a reset that cannot be stored is logged.
  virtual void succeeded(std::string_view account) = 0;
};

}  // namespace gatehouse::state
