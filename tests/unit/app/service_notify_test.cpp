#include "app/service_notify.hpp"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace gatehouse::app {
namespace {

// A datagram socket bound where a service manager would listen: `name` is a path, or an
// abstract name when it starts with '@'.
class Listener {
 public:
  explicit Listener(const std::string& name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un at{};
    at.sun_family = AF_UNIX;
    std::size_t size = name.size();
    std::memcpy(at.sun_path, name.data(), size);
    if (name.front() == '@') {
      at.sun_path[0] = '\0';
    } else {
      size += 1;
    }
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&at),
                  static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + size)) == 0;
    timeval wait{.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  }
  ~Listener() { close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  bool bound() const { return bound_; }
  std::string receive() const {
    char buffer[512];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    return n < 0 ? std::string("<nothing>") : std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

// Under /tmp, not TMPDIR: a path must fit in a socket address's 108 bytes.
std::string uniqueName(const std::string& stem) {
  return stem + std::to_string(getpid()) + "-" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

TEST(ServiceNotifier, NoSocketNamedSendsNothingAndSucceeds) {
  auto notifier = ServiceNotifier::forSocket("");  // serve passes "" for an unset variable
  ASSERT_TRUE(notifier);
  EXPECT_FALSE(notifier->active());
  EXPECT_TRUE(notifier->send("READY=1"));
}

TEST(ServiceNotifier, SendsTheStateToASocketAtAPath) {
  const auto path = std::filesystem::path("/tmp") / uniqueName("gh-notify-");
  std::filesystem::remove(path);
  const Listener listener(path.string());
  ASSERT_TRUE(listener.bound());
  auto notifier = ServiceNotifier::forSocket(path.string());
  ASSERT_TRUE(notifier);
  EXPECT_TRUE(notifier->active());
  ASSERT_TRUE(notifier->send("READY=1\nSTATUS=listening on 127.0.0.1:8000"));
  EXPECT_EQ(listener.receive(), "READY=1\nSTATUS=listening on 127.0.0.1:8000");
  ASSERT_TRUE(notifier->send("STOPPING=1"));
  EXPECT_EQ(listener.receive(), "STOPPING=1");
  std::filesystem::remove(path);
}

TEST(ServiceNotifier, SendsToAnAbstractName) {
  const std::string name = "@" + uniqueName("gatehouse-notify-");
  const Listener listener(name);
  ASSERT_TRUE(listener.bound());
  auto notifier = ServiceNotifier::forSocket(name);
  ASSERT_TRUE(notifier);
  ASSERT_TRUE(notifier->send("READY=1"));
  EXPECT_EQ(listener.receive(), "READY=1");
}

TEST(ServiceNotifier, TheAbstractNameIsExactNotAPrefix) {
  // The name's length is part of the address: "@x-abc" must not reach a socket bound to "@x-ab".
  const std::string name = "@" + uniqueName("gatehouse-notify-");
  const Listener listener(name);
  ASSERT_TRUE(listener.bound());
  auto longer = ServiceNotifier::forSocket(name + "c");
  ASSERT_TRUE(longer);
  EXPECT_FALSE(longer->send("READY=1"));
}

TEST(ServiceNotifier, NoListenerIsAnErrorToReport) {
  const auto path = std::filesystem::path("/tmp") / uniqueName("gh-notify-none-");
  std::filesystem::remove(path);
  auto notifier = ServiceNotifier::forSocket(path.string());
  ASSERT_TRUE(notifier);
  const auto sent = notifier->send("READY=1");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, core::Errc::Unavailable);
  EXPECT_NE(sent.error().message.find("sendto"), std::string::npos);
}

TEST(ServiceNotifier, RefusesWhatNoServiceManagerWouldPass) {
  const std::string longest_path = "/" + std::string(sizeof(sockaddr_un::sun_path) - 2, 'p');
  const std::string longest_name = "@" + std::string(sizeof(sockaddr_un::sun_path) - 1, 'n');
  EXPECT_TRUE(ServiceNotifier::forSocket(longest_path));
  EXPECT_TRUE(ServiceNotifier::forSocket(longest_name));
  for (const std::string& bad :
       {std::string("run/notify"), std::string("vsock:2:1234"), std::string("@"),
        longest_path + "p", longest_name + "n", std::string("/run/no\0tify", 11)}) {
    const auto notifier = ServiceNotifier::forSocket(bad);
    ASSERT_FALSE(notifier) << bad;
    EXPECT_EQ(notifier.error().code, core::Errc::InvalidArgument);
    EXPECT_TRUE(notifier.error().message.starts_with("NOTIFY_SOCKET: "))
        << notifier.error().message;
  }
}

TEST(WatchdogTimeout, IsWatchdogUsecForThisProcessAndZeroWhenNotAsked) {
  using std::chrono::microseconds;
  constexpr long kSelf = 4242;
  EXPECT_EQ(watchdogTimeout("", "", kSelf).value(), microseconds(0));
  EXPECT_EQ(watchdogTimeout("", "4242", kSelf).value(), microseconds(0));
  EXPECT_EQ(watchdogTimeout("30000000", "", kSelf).value(), microseconds(30'000'000));
  EXPECT_EQ(watchdogTimeout("30000000", "4242", kSelf).value(), microseconds(30'000'000));
  EXPECT_EQ(watchdogTimeout("1", "4242", kSelf).value(), microseconds(1));
  // Inherited from a parent that is watched: not this process's watchdog.
  EXPECT_EQ(watchdogTimeout("30000000", "4241", kSelf).value(), microseconds(0));
  EXPECT_EQ(watchdogTimeout("30000000", "42420", kSelf).value(), microseconds(0));
  EXPECT_EQ(watchdogTimeout("9223372036854775807", "", kSelf).value(), microseconds(INT64_MAX));
}

TEST(WatchdogTimeout, BeatsEveryHalfTimeoutWithinAMillisecondAndAnHour) {
  using std::chrono::microseconds;
  EXPECT_EQ(watchdogBeatEvery(microseconds(30'000'000)), microseconds(15'000'000));
  EXPECT_EQ(watchdogBeatEvery(microseconds(400'000)), microseconds(200'000));
  EXPECT_EQ(watchdogBeatEvery(microseconds(1)), std::chrono::milliseconds(1));
  EXPECT_EQ(watchdogBeatEvery(microseconds(1'999)), std::chrono::milliseconds(1));
  EXPECT_EQ(watchdogBeatEvery(microseconds(3'000)), microseconds(1'500));
  // The largest timeout WATCHDOG_USEC may hold: half of it in nanoseconds (a steady_clock timer's
  // unit) would overflow.
  EXPECT_EQ(watchdogBeatEvery(microseconds(INT64_MAX)), std::chrono::hours(1));
  EXPECT_EQ(watchdogBeatEvery(std::chrono::hours(4)), std::chrono::hours(1));
}

TEST(WatchdogTimeout, RefusesValuesThatAreNotPositiveWholeNumbers) {
  for (const std::string_view bad : {"0", "-1", "+5", " 5", "5 ", "5s", "1e6", "0x10", "abc",
                                     "9223372036854775808", "99999999999999999999999"}) {
    const auto timeout = watchdogTimeout(bad, "", 4242);
    ASSERT_FALSE(timeout) << bad;
    EXPECT_EQ(timeout.error().code, core::Errc::InvalidArgument);
    EXPECT_TRUE(timeout.error().message.starts_with("WATCHDOG_USEC: ")) << timeout.error().message;
  }
  for (const std::string_view bad : {"0", "-4242", "pid", "4242 "}) {
    const auto timeout = watchdogTimeout("30000000", bad, 4242);
    ASSERT_FALSE(timeout) << bad;
    EXPECT_TRUE(timeout.error().message.starts_with("WATCHDOG_PID: ")) << timeout.error().message;
  }
}

}  // namespace
}  // namespace gatehouse::app
