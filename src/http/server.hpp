#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/ip_address.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

namespace gatehouse::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;  // 0 picks a free port
  std::size_t max_body_bytes = 1U << 20U;
  std::size_t max_header_bytes = 8U << 10U;
  std::chrono::seconds request_timeout{30};  // to receive one request's body
  std::chrono::seconds idle_timeout{60};     // keep-alive wait plus the request headers
  std::size_t max_connections = 1024;
  // At most this many of them from one client address (an IPv6 client: its /64; 0: no limit):
  // one client holding every slot with idle keep-alive connections, a request each per idle
  // timeout, kept everyone else out (an outside attack). Peers listed in `unlimited_peers` (the
  // trusted proxies, through which every client comes) are not counted.
  std::size_t max_connections_per_client = 256;
  core::AddressSet unlimited_peers;
  // Request body bytes held in memory at once, all connections together, and an eighth of it
  // (or one max_body_bytes body, when more) for one client address: beyond either, a request
  // whose body would grow past it is answered 503 (Retry-After) and its connection closed.
  // Without it, connections each sending all but the last byte of a max_body_bytes body held
  // max_connections x max_body_bytes (about 1 GiB from one client, an outside attack).
  std::size_t max_body_memory = std::size_t{64} << 20U;
  // 0 = half the cores, at least one: an I/O thread answers a token check in a few microseconds,
  // and the other cores are left to the storage and hashing workers and to whatever shares the
  // machine (the proxy, the application). On two cores shared with the load, two I/O threads
  // ran dry and slept over 400 times as often as one, which answered more (docs/benchmarks.md).
  std::size_t io_threads = 0;
  // Most threads for storage work; they start on demand and end after a while idle.
  std::size_t worker_threads = 16;
  // Requests of the Hashing lane (each waits on the password hashing pool) run on threads of
  // their own, so a login flood never delays storage work: at most hashing_threads at once, and
  // at most hashing_queue more waiting as queue entries; beyond that, `busy` answers at once.
  std::size_t hashing_threads = 2;
  std::size_t hashing_queue = 64;
  // Requests of the Outbound lane (each may wait seconds on an identity provider) likewise: at
  // most outbound_threads at once, outbound_queue more waiting; beyond that, `busy` answers.
  std::size_t outbound_threads = 16;
  std::size_t outbound_queue = 64;
  std::chrono::seconds shutdown_grace{10};
  // Called once, on an I/O thread, when graceful shutdown begins (before requests in flight have
  // finished); must not block.
  std::function<void()> on_shutdown;
  // Called every `heartbeat_every` (zero: never) while serving, on the I/O thread that begins the
  // shutdown, once every I/O thread has run a handler since the timer fired: whoever hears the
  // beats (systemd's watchdog) knows none of them is stuck. Never after on_shutdown; must not
  // block. Hours at most: it becomes a steady_clock timer, in nanoseconds.
  std::chrono::microseconds heartbeat_every{0};
  std::function<void()> on_heartbeat;
  // Called on an I/O thread for each SIGHUP (log rotation: reopen files); must not block.
  // SIGHUP never stops the server (its default action did, under logrotate's `kill -HUP`).
  std::function<void()> on_hangup;
  // Called on an I/O thread for an accept that failed (out of file descriptors: the loop waits a
  // tenth of a second before the next), and with success for the first that works after such
  // failures; never twice at once (one accept loop); must not block. At the open-file limit the
  // two alternate, each time a connection closes.
  std::function<void(const core::Status&)> on_accept;
};

// Turns a request into a response; runs on a worker thread, where blocking is allowed.
using Pipeline = std::function<Response(Request&)>;
// Tried first on the I/O thread for every request; must not block. Either the response, or the
// lane whose workers run the request (Pipeline).
using InlinePipeline = std::function<std::variant<Response, Lane>(Request&)>;
// Applied to responses the server makes itself (413, 431, 503 when full) before writing, so they
// carry the same headers as every other response. `request` is null when none was parsed.
using Decorator = std::function<void(const Request* request, Response& response)>;

// HTTP/1.1 server on Boost.Asio with C++20 coroutines and its own strict request parser
// (request_parser.hpp); the only place Asio appears.
// I/O threads parse, answer what memory can answer, and write: every other request is handed to
// its lane's worker pool, so a slow handler never stalls other connections. Graceful shutdown on
// SIGINT/SIGTERM: stop accepting, close idle keep-alive connections, finish in-flight requests (up
// to shutdown_grace), then return from run().
class Server {
 public:
  // `busy` answers a request whose lane has no room left (on the I/O thread, must not block);
  // without it such a request gets a plain 503.
  Server(ServerOptions options, Pipeline pipeline, Decorator decorate,
         InlinePipeline try_inline = {}, Pipeline busy = {});
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  // Binds and listens; Unavailable naming the address when that fails.
  [[nodiscard]] core::Status listen();
  // The bound port (useful with port 0).
  std::uint16_t port() const;
  // Serves until a signal or stop(). Call after listen().
  void run();
  // Begins graceful shutdown; safe from any thread.
  void stop();
  // Requests of the Hashing lane waiting for a thread.
  std::size_t hashingQueueDepth() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gatehouse::http
