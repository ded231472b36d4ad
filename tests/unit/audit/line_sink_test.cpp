#include "audit/line_sink.hpp"

#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace gatehouse::audit {
namespace {

class LineSinkTest : public ::testing::Test {
 protected:
  LineSinkTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("gatehouse-sink-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~LineSinkTest() override { std::filesystem::remove_all(dir_); }

  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
  }

  std::filesystem::path dir_;
};

TEST_F(LineSinkTest, WritesLinesInOrder) {
  const auto path = dir_ / "audit.jsonl";
  {
    auto sink = LineSink::open(path.string()).value();
    for (int i = 0; i < 100; ++i) sink->push(std::to_string(i) + "\n");
    sink->flush();
    EXPECT_EQ(sink->dropped(), 0U);
    EXPECT_EQ(sink->failed(), 0U);
  }
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += std::to_string(i) + "\n";
  EXPECT_EQ(read(path), expected);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(LineSinkTest, AReopenLetsARenamedFileGoAndMakesANewOne) {
  const auto path = dir_ / "audit.jsonl";
  auto sink = LineSink::open(path.string()).value();
  sink->push("before\n");
  sink->flush();
  std::filesystem::rename(path, dir_ / "audit.jsonl.1");
  sink->push("renamed\n");  // still the file open: the rotation's postrotate has not run
  sink->flush();
  sink->reopen();
  sink->push("after\n");
  sink->flush();
  EXPECT_EQ(read(dir_ / "audit.jsonl.1"), "before\nrenamed\n");
  EXPECT_EQ(read(path), "after\n");
}

TEST_F(LineSinkTest, AStoppedReaderNeverHoldsAPushAndWhatExceedsTheBudgetIsCounted) {
  const auto fifo = dir_ / "audit.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // A reader that never reads: the pipe fills (64 KiB), then the budget (8 KiB here).
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  auto sink = LineSink::open(fifo.string(), 8192).value();
  const std::string line(999, 'x');
  for (int i = 0; i < 200; ++i) sink->push(line + "\n");  // 200 KB: returns at once
  EXPECT_GT(sink->dropped(), 100U);
  EXPECT_LT(sink->dropped(), 200U);
  // The reader catches up: what was queued arrives, and lines are taken again.
  std::string got;
  char buffer[65536];
  const auto drain = [&] {
    for (ssize_t n; (n = ::read(reader, buffer, sizeof buffer)) > 0;)
      got.append(buffer, static_cast<std::size_t>(n));
  };
  const std::uint64_t dropped = sink->dropped();
  for (int i = 0; i < 200 && got.size() < (200 - dropped) * 1000; ++i) {
    drain();
    ::usleep(10'000);
  }
  EXPECT_EQ(got.size(), (200 - dropped) * 1000);
  sink->push("later\n");
  sink->flush();
  drain();
  EXPECT_TRUE(got.ends_with(line + "\nlater\n"));
  EXPECT_EQ(sink->dropped(), dropped);
  EXPECT_EQ(sink->failed(), 0U);
  ::close(reader);
}

TEST_F(LineSinkTest, AReaderGoneCountsFailedLinesAndEndsNoProcess) {
  const auto fifo = dir_ / "audit.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  auto sink = LineSink::open(fifo.string()).value();
  ::close(reader);  // EPIPE from now on (SIGPIPE would end this test's process)
  sink->push("one\n");
  sink->push("two\n");
  sink->flush();
  EXPECT_EQ(sink->failed(), 2U);
}

TEST_F(LineSinkTest, AWriteCutShortLeavesNoTwoRecordsOnOneLine) {
  // A file size limit stands in for a full disk: the write across it is cut short, the rest
  // fails (EFBIG; SIGXFSZ would end this test's process were it not blocked in the writer).
  const auto path = dir_ / "audit.jsonl";
  auto sink = LineSink::open(path.string()).value();
  sink->push("first\n");
  sink->flush();
  rlimit unlimited{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &unlimited), 0);
  rlimit small = unlimited;
  small.rlim_cur = 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  sink->push("second-record\n");  // "seco" fits
  sink->flush();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &unlimited), 0);
  EXPECT_EQ(sink->failed(), 1U);
  sink->push("third\n");
  sink->flush();
  EXPECT_EQ(read(path), "first\nseco\nthird\n");
  EXPECT_EQ(sink->failed(), 1U);
}

TEST_F(LineSinkTest, AFileFoundTornGetsItsNextRecordOnALineOfItsOwn) {
  // A crash, a full disk or another process left the file inside a line; so does a reopen of the
  // same file (a SIGHUP with no rotation) after a write cut short.
  const auto path = dir_ / "audit.jsonl";
  {
    std::ofstream out(path);
    out << "whole\ntorn";
  }
  ::chmod(path.c_str(), 0600);
  auto sink = LineSink::open(path.string()).value();
  sink->push("next\n");
  sink->flush();
  EXPECT_EQ(read(path), "whole\ntorn\nnext\n");
  {
    std::ofstream out(path, std::ios::app);
    out << "cut";
  }
  sink->reopen();
  sink->push("after\n");
  sink->flush();
  EXPECT_EQ(read(path), "whole\ntorn\nnext\ncut\nafter\n");
}

TEST_F(LineSinkTest, AStoppingSinkGivesUpOnAReaderThatNeverReads) {
  const auto fifo = dir_ / "audit.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  const auto started = std::chrono::steady_clock::now();
  {
    auto sink = LineSink::open(fifo.string()).value();
    const std::string line(999, 'y');
    for (int i = 0; i < 4000; ++i) sink->push(line + "\n");  // the whole 4 MiB budget
    sink.reset();  // returns after its grace, not a poll's wait per batch left (a review)
  }
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, std::chrono::seconds(6));
  ::close(reader);
}

}  // namespace
}  // namespace gatehouse::audit
