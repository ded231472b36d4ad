#include "core/clock.hpp"

#include <array>
#include <ctime>

namespace gatehouse::core {

std::int64_t Clock::unixSeconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
}

std::chrono::system_clock::time_point SystemClock::now() const {
  return std::chrono::system_clock::now();
}

std::chrono::system_clock::time_point ManualClock::now() const {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds_.load()));
}

std::string rfc3339(std::int64_t unix_seconds) {
  std::tm tm{};
  const auto t = static_cast<std::time_t>(unix_seconds);
  gmtime_r(&t, &tm);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text.data();
}

}  // namespace gatehouse::core
