// The server in process, over a loopback socket: which of its threads may wait on storage.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <atomic>
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

}  // namespace
}  // namespace gatehouse::http
