#include "core/clock.hpp"

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

TEST(ManualClock, SetsAndAdvances) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.unixSeconds(), 1000);
  clock.advance(61);
  EXPECT_EQ(clock.unixSeconds(), 1061);
  clock.set(5);
  EXPECT_EQ(clock.unixSeconds(), 5);
}

TEST(SystemClock, IsAfter2024) {
  SystemClock clock;
  EXPECT_GT(clock.unixSeconds(), 1'704'067'200);
}

}  // namespace
}  // namespace gatehouse::core
