// The janitor's failure lines: an outage of the database is said once, then every 30 s with the
// count between, and its end once; not twice a second for every reader.
#include "app/failure_log.hpp"

#include <gtest/gtest.h>

namespace gatehouse::app {
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

}  // namespace
}  // namespace gatehouse::app
