#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/log.hpp"

namespace gatehouse::core {

// What a task that repeats (twice a second, on one thread at a time, or under a lock) says of its
// failures (here, below every module: the app's tasks, the mail queue): the
// first at once, then at most a line every 30 s naming how many failed since the last, and one
// when it works again. An outside attack stopped PostgreSQL: each node wrote four failures a
// second for the whole outage.
class FailureLog {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kEvery{30};

  // Whether a failure right after a recovery is said at once (a new outage of a task that runs
  // on a tick) or waits for the 30 s since the last line like any other (`quiet_after_recovery`:
  // what fails and works by turns, as accepts at the open-file limit do each time a connection
  // closes, said two lines a close; a review). Quiet, a recovery is said only after a failure
  // that was.
  explicit FailureLog(bool quiet_after_recovery = false) : quiet_(quiet_after_recovery) {}

  // The line to log for a failure at `now`, or nothing (counted for the next line).
  std::optional<std::string> failed(Clock::time_point now, std::string_view detail) {
    ++failures_;
    if ((failures_ > 1 || quiet_) && said_any_ && now - said_ < kEvery) {
      ++unsaid_;
      return std::nullopt;
    }
    std::string line(detail);
    if (unsaid_ > 0)
      line += " (" + std::to_string(unsaid_) + " more failed since the last line of it)";
    said_ = now;
    said_any_ = true;
    said_since_recovery_ = true;
    unsaid_ = 0;
    return line;
  }

  // After failures, the line saying it works again; nothing otherwise.
  std::optional<std::string> succeeded() {
    if (failures_ == 0) return std::nullopt;
    if (quiet_ && !said_since_recovery_) {
      failures_ = 0;  // the failures stay counted in unsaid_ for the next line
      return std::nullopt;
    }
    said_since_recovery_ = false;
    std::string line = "works again after " + std::to_string(failures_) +
                       (failures_ == 1 ? " failure" : " failures");
    failures_ = 0;
    unsaid_ = 0;
    return line;
  }

 private:
  bool quiet_ = false;
  std::int64_t failures_ = 0;  // in a row
  std::int64_t unsaid_ = 0;
  Clock::time_point said_{};
  bool said_any_ = false;
  bool said_since_recovery_ = false;
};

// Logs the outcome of the task `what` through `log`: its failures at `level` ("<what> failed:
// <detail>"), its recovery at info.
template <class T>
void logOutcome(FailureLog& log, std::string_view what, const Result<T>& outcome,
                spdlog::level::level_enum level = spdlog::level::warn) {
  if (!outcome) {
    if (auto line = log.failed(FailureLog::Clock::now(), outcome.error().message))
      spdlog::log(level, "{} failed: {}", what, *line);
  } else if (auto line = log.succeeded()) {
    spdlog::info("{} {}", what, *line);
  }
}

}  // namespace gatehouse::core
