#include "core/clock.hpp"

#include <algorithm>
#include <array>
#include <ctime>

namespace gatehouse::core {

std::int64_t Clock::unixSeconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
}

std::chrono::milliseconds Clock::unixMillis() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch());
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

std::optional<std::int64_t> parseRfc3339(std::string_view text) {
  std::size_t pos = 0;
  const auto number = [&](std::size_t digits, int& out) {
    if (pos + digits > text.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < digits; ++i) {
      const char c = text[pos + i];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    pos += digits;
    return true;
  };
  const auto literal = [&](std::string_view chars) {
    if (pos >= text.size() || chars.find(text[pos]) == std::string_view::npos) return false;
    ++pos;
    return true;
  };
  std::tm tm{};
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!number(4, year) || !literal("-") || !number(2, month) || !literal("-") || !number(2, day) ||
      !literal("Tt ") || !number(2, hour) || !literal(":") || !number(2, minute) || !literal(":") ||
      !number(2, second))
    return std::nullopt;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t digits = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == digits) return std::nullopt;
  }
  int offset = 0;
  if (literal("Zz")) {
    offset = 0;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos++] == '-' ? -1 : 1;
    int oh = 0;
    int om = 0;
    if (!number(2, oh) || !literal(":") || !number(2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (pos != text.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60)
    return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  // A leap second (:60) is the instant after :59.
  tm.tm_sec = std::min(second, 59);
  const std::time_t t = timegm(&tm);
  // timegm normalises 31 February into March: such a date is not a date.
  std::tm back{};
  gmtime_r(&t, &back);
  if (back.tm_mday != day) return std::nullopt;
  return static_cast<std::int64_t>(t) + (second == 60 ? 1 : 0) - offset;
}

}  // namespace gatehouse::core
