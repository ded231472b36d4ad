#include "core/clock.hpp"

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

}  // namespace gatehouse::core
