// The server in process, over a loopback socket: which of its threads may wait on storage.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/blocking.hpp"

namespace gatehouse::http {
namespace {

// One request on a new connection; the raw response.
std::string exchange(std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return {};
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)::send(fd, request.data(), request.size(), 0);
  std::string response;
  char buffer[4096];
  for (ssize_t n = 0; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;)
    response.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  return response;
}

// The I/O threads (each of them, and the decorator and inline attempt they run) may not wait on
// storage; the lanes' workers may. Debug builds assert on this in every storage call
// (core::NoWaitScope), so a thread marked wrongly would let a blocking call pass or stop a
// worker that is allowed to block.
TEST(Server, OnlyTheIoThreadsAreMarkedAsUnableToWait) {
  std::atomic<int> inline_marked{0}, inline_unmarked{0}, worker_marked{0}, worker_unmarked{0},
      decorated_marked{0};
  ServerOptions options;
  options.port = 0;
  options.io_threads = 2;
  Server server(
      options,
      [&](Request&) {
        ++(core::NoWaitScope::active() ? worker_marked : worker_unmarked);
        return Response::empty(204);
      },
      [&](const Request*, Response&) {
        if (core::NoWaitScope::active()) ++decorated_marked;
      },
      [&](Request& r) -> std::variant<Response, Lane> {
        ++(core::NoWaitScope::active() ? inline_marked : inline_unmarked);
        if (r.path == "/inline") return Response::empty(200);
        return Lane::Storage;
      });
  ASSERT_TRUE(server.listen());
  bool marked_after_run = true;
  std::thread running([&] {
    server.run();
    marked_after_run = core::NoWaitScope::active();
  });
  // Several connections, so that each I/O thread takes some.
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(exchange(server.port(), "/inline").starts_with("HTTP/1.1 200")) << i;
    EXPECT_TRUE(exchange(server.port(), "/worker").starts_with("HTTP/1.1 204")) << i;
  }
  // A response the server makes itself (431) is decorated on the I/O thread.
  EXPECT_TRUE(exchange(server.port(), "/inline?" + std::string(options.max_header_bytes, 'x'))
                  .starts_with("HTTP/1.1 431"));
  server.stop();
  running.join();
  EXPECT_EQ(inline_marked, 12);
  EXPECT_EQ(inline_unmarked, 0);
  EXPECT_EQ(worker_marked, 0);
  EXPECT_EQ(worker_unmarked, 6);
  EXPECT_GE(decorated_marked, 1);
  EXPECT_FALSE(marked_after_run) << "the scope ends with run()";
}

// Polls `done` for up to 30 s: whether it came true.
template <class Predicate>
bool eventually(Predicate done) {
  for (int i = 0; i < 3000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// The heartbeat is what systemd's watchdog hears: it must stop while any I/O thread is stuck
// (here, an inline handler that blocks), and come back when that thread turns again.
TEST(Server, BeatsOnlyWhileEveryIoThreadTurns) {
  std::atomic<int> beats{0};
  std::atomic<bool> stuck{false};
  std::mutex mutex;
  std::condition_variable released;
  bool release = false;
  ServerOptions options;
  options.port = 0;
  options.io_threads = 2;
  options.heartbeat_every = std::chrono::milliseconds(5);
  options.on_heartbeat = [&beats] { ++beats; };
  Server server(
      options, [](Request&) { return Response::empty(204); }, nullptr,
      [&](Request& r) -> std::variant<Response, Lane> {
        if (r.path != "/stick") return Lane::Storage;
        stuck = true;
        std::unique_lock lock(mutex);
        released.wait(lock, [&release] { return release; });
        return Response::empty(200);
      });
  ASSERT_TRUE(server.listen());
  std::thread running([&server] { server.run(); });
  std::thread client;
  const auto unstick = [&] {
    {
      const std::lock_guard lock(mutex);
      release = true;
    }
    released.notify_all();
  };
  // Whatever assertion ends the test early, the threads end before their objects do.
  struct Ending {
    std::function<void()> run;
    ~Ending() { run(); }
  } const ending{[&] {
    unstick();
    if (client.joinable()) client.join();
    server.stop();
    running.join();
  }};
  ASSERT_TRUE(eventually([&beats] { return beats >= 3; }));

  // Connections go to the contexts in turn: after this one (the first, on the first context,
  // which also runs the heartbeat's timer), the stuck one lands on the second, whose timer-less
  // thread must still hold up the beats.
  EXPECT_TRUE(exchange(server.port(), "/first").starts_with("HTTP/1.1 204"));
  std::string stuck_response;
  client = std::thread([&] { stuck_response = exchange(server.port(), "/stick"); });
  ASSERT_TRUE(eventually([&stuck] { return stuck.load(); }));
  // Rounds the stuck thread answered before it stuck may still beat (two at most); no later one.
  const int when_stuck = beats;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // about 60 intervals
  const int while_stuck = beats;
  EXPECT_LE(while_stuck, when_stuck + 2);

  unstick();
  client.join();
  EXPECT_TRUE(stuck_response.starts_with("HTTP/1.1 200")) << stuck_response;
  EXPECT_TRUE(eventually([&] { return beats > while_stuck + 2; }));
}

TEST(Server, ALongHeartbeatIntervalDoesNotHoldUpTheShutdown) {
  std::atomic<int> beats{0};
  ServerOptions options;
  options.port = 0;
  options.heartbeat_every = std::chrono::hours(1);
  options.on_heartbeat = [&beats] { ++beats; };
  Server server(
      options, [](Request&) { return Response::empty(204); }, nullptr,
      [](Request&) -> std::variant<Response, Lane> { return Lane::Storage; });
  ASSERT_TRUE(server.listen());
  std::thread running([&server] { server.run(); });
  EXPECT_TRUE(exchange(server.port(), "/").starts_with("HTTP/1.1 204"));
  const auto stopping = std::chrono::steady_clock::now();
  server.stop();
  running.join();  // the pending beat's timer is cancelled, not waited for
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::minutes(1));
  EXPECT_EQ(beats, 0);
}

}  // namespace
}  // namespace gatehouse::http
