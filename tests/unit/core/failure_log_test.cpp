// The janitor's failure lines: an outage of the database is said once, then every 30 s with the
// count between, and its end once; not twice a second for every reader.
#include "core/failure_log.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

using namespace std::chrono_literals;

TEST(FailureLog, AnOutageIsSaidOnceEveryThirtySecondsWithTheCountAndItsEndOnce) {
  FailureLog log;
  const auto t0 = FailureLog::Clock::time_point{} + 1000s;
  EXPECT_FALSE(log.succeeded()) << "nothing failed: nothing to say";
  EXPECT_EQ(log.failed(t0, "database unavailable"), "database unavailable");
  int said = 0;
  for (int tick = 1; tick < 120; ++tick) {  // a minute of ticks, twice a second
    if (log.failed(t0 + tick * 500ms, "database unavailable")) ++said;
  }
  EXPECT_EQ(said, 1) << "one line at the thirty seconds' mark, not 119";
  auto line = log.failed(t0 + 61s, "database unavailable");
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "database unavailable (59 more failed since the last line of it)");
  EXPECT_EQ(log.succeeded(), "works again after 121 failures");
  EXPECT_FALSE(log.succeeded());
  // The next outage begins with a line of its own at once.
  EXPECT_EQ(log.failed(t0 + 62s, "timeout"), "timeout");
  EXPECT_EQ(log.succeeded(), "works again after 1 failure");
}

// Accepts at the open-file limit fail and work by turns, each time a connection closes: said
// two lines a close (a review). Quiet after a recovery, a failure waits for the 30 s since the
// last line, and a recovery is said only after a failure that was.
TEST(FailureLog, WhatFailsAndWorksByTurnsIsSaidAtMostTwiceEveryThirtySeconds) {
  FailureLog log(true);
  const auto t0 = FailureLog::Clock::time_point{} + 1000s;
  EXPECT_EQ(log.failed(t0, "too many open files"), "too many open files");
  EXPECT_EQ(log.succeeded(), "works again after 1 failure");
  std::vector<std::string> said;
  for (int close = 1; close <= 40; ++close) {  // a close every 1.5 s for a minute
    const auto at = t0 + close * 1500ms;
    if (auto line = log.failed(at, "too many open files")) said.push_back(*line);
    if (auto line = log.succeeded()) said.push_back(*line);
  }
  // A failure and a recovery at each thirty seconds' mark, not 80 lines; the failures between
  // are counted.
  EXPECT_EQ(said, (std::vector<std::string>{
                      "too many open files (19 more failed since the last line of it)",
                      "works again after 1 failure",
                      "too many open files (19 more failed since the last line of it)",
                      "works again after 1 failure"}));
  // The first failure ever is said at once.
  FailureLog fresh(true);
  EXPECT_TRUE(fresh.failed(t0, "x"));
}

}  // namespace
}  // namespace gatehouse::core
