#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::core {

// Wall-clock source, injected wherever time matters (token checks, rate limits).
// Implementations MUST be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
  // Seconds since the Unix epoch.
  std::int64_t unixSeconds() const;
  // Milliseconds since the Unix epoch.
  std::chrono::milliseconds unixMillis() const;
};

// The real system clock.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override;
};

// A clock tests set and advance by hand. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t unix_seconds = 1'700'000'000) : seconds_(unix_seconds) {}
  std::chrono::system_clock::time_point now() const override;
  void set(std::int64_t unix_seconds) { seconds_.store(unix_seconds); }
  void advance(std::int64_t seconds) { seconds_.fetch_add(seconds); }

 private:
  std::atomic<std::int64_t> seconds_;
};

// RFC 3339 UTC text ("2026-11-25T02:18:08Z") of Unix seconds.
std::string rfc3339(std::int64_t unix_seconds);

// Unix seconds of an RFC 3339 date-time ("2026-11-25T02:18:08Z", "2026-11-25T03:18:08.5+01:00";
// 't' and 'z' and a space instead of 'T' accepted, fractions dropped); nullopt when malformed.
std::optional<std::int64_t> parseRfc3339(std::string_view text);

}  // namespace gatehouse::core
