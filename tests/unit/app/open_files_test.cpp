#include "app/open_files.hpp"

#include <cstdint>
#include <string>
#include <sys/resource.h>

#include <gtest/gtest.h>

namespace gatehouse::app {
namespace {

// Restores the process's open-file limit when a test ends.
class OpenFileLimitTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved_), 0); }
  void TearDown() override { EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &saved_), 0); }
  rlimit saved_{};
};

// A shell's usual 1024 left clients past about 900 connections waiting in the backlog while the
// system allowed far more (an outside attack): the soft limit is raised to the hard one.
TEST_F(OpenFileLimitTest, TheSoftLimitIsRaisedToTheHardOne) {
  if (saved_.rlim_max != RLIM_INFINITY && saved_.rlim_max <= 64) GTEST_SKIP() << "hard limit";
  rlimit low = saved_;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const std::uint64_t now = raiseOpenFileLimit();
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, now);
  EXPECT_GT(now, 64U);
  if (saved_.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(now, saved_.rlim_max);
  }
  EXPECT_EQ(after.rlim_max, saved_.rlim_max);  // never lowered
  // Already there: nothing changes.
  EXPECT_EQ(raiseOpenFileLimit(), now);
}

TEST(OpenFileWarning, SaysSoWhenTheLimitLeavesTooFewForTheConnections) {
  EXPECT_FALSE(openFileWarning(65536, 1024, 8));
  EXPECT_FALSE(openFileWarning(1024 + kFilesBesideConnections + 8, 1024, 8));
  // The database's connections count too (DATABASE_POOL_SIZE).
  EXPECT_TRUE(openFileWarning(1024 + kFilesBesideConnections + 8, 1024, 9));
  const auto few = openFileWarning(1024, 1024, 0);
  ASSERT_TRUE(few);
  EXPECT_NE(few->find("the open-file limit is 1024"), std::string::npos) << *few;
  EXPECT_NE(few->find("GATEHOUSE_MAX_CONNECTIONS is 1024"), std::string::npos) << *few;
  EXPECT_NE(few->find("past about 896 connections"), std::string::npos) << *few;
  EXPECT_NE(few->find("LimitNOFILE"), std::string::npos) << *few;
  const auto none = openFileWarning(100, 10, 8);
  ASSERT_TRUE(none);
  EXPECT_NE(none->find("past about 0 connections"), std::string::npos) << *none;
  EXPECT_FALSE(openFileWarning(0, 1024, 8));  // the limit could not be read: nothing to say
}

}  // namespace
}  // namespace gatehouse::app
