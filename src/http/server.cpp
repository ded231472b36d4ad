// The only translation unit (with beast_impl.cpp) that includes Boost.Beast/Asio.
#include "http/server.hpp"

// GCC 12 reports asio's coroutine frames (allocated by its own operator new, freed by the
// matching operator delete) as mismatched once the frame awaits asio::async_write: a known false
// positive of -Wmismatched-new-delete with coroutines.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <list>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "core/this_thread.hpp"
#include "core/worker_pool.hpp"

namespace gatehouse::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');  // ASCII only, no locale
  }
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 3986 §3.2.2/§3.2.3 host[:port]: a reg-name or an IP literal in brackets, an optional
// numeric port; nothing that could smuggle a path or user info.
bool validHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : host.substr(1, close - 1)) {
      if (std::isxdigit(static_cast<unsigned char>(c)) == 0 && c != ':' && c != '.') return false;
    }
    host.remove_prefix(close + 1);
    if (host.empty()) return true;
    if (host.front() != ':') return false;
    host.remove_prefix(1);
    return std::all_of(host.begin(), host.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
  }
  const auto colon = host.find(':');
  const std::string_view name = host.substr(0, colon);
  if (name.empty()) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '.' && c != '_')
      return false;
  }
  if (colon == std::string_view::npos) return true;
  const std::string_view port = host.substr(colon + 1);
  return std::all_of(port.begin(), port.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

// Why a request's framing cannot be trusted: 400 (or 501 for a transfer coding we do not
// implement), or 0 when it can.
int framingProblem(const bhttp::request_parser<bhttp::string_body>::value_type& msg) {
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1, and a valid one wherever it appears.
  std::size_t hosts = 0;
  for (const auto& f : msg) {
    if (f.name() != bhttp::field::host) continue;
    ++hosts;
    if (!validHost(f.value())) return 400;
  }
  if (hosts > 1 || (msg.version() >= 11 && hosts == 0)) return 400;
  std::string codings;
  std::size_t te_fields = 0;
  for (const auto& f : msg) {
    if (f.name() != bhttp::field::transfer_encoding) continue;
    ++te_fields;
    if (!codings.empty()) codings += ',';
    codings += std::string(f.value());
  }
  if (te_fields == 0) return 0;
  if (msg.version() < 11) return 400;  // RFC 9112 §6.1: faulty framing in HTTP/1.0
  if (msg.find(bhttp::field::content_length) != msg.end()) return 400;
  // RFC 9112 §6.3: chunked must be the final coding; any other coding (gzip, ...) is one we do
  // not implement (501), since handlers would otherwise see encoded bytes.
  std::vector<std::string_view> items;
  std::string_view rest(codings);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) items.push_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (items.empty() || !equalsIgnoreCase(items.back(), "chunked")) return 400;
  if (items.size() > 1) return 501;
  return 0;
}

}  // namespace

constexpr std::size_t kReadAhead = 64 * 1024;

struct Server::Impl {
  // One accepted connection; `busy` while a request is being handled, so shutdown closes only
  // idle ones.
  struct Conn {
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::atomic<bool> busy{false};
    // When the sweeper closes the connection (steady clock, nanoseconds); 0: no deadline, while
    // a worker has the request. One timer per server instead of one armed and cancelled per read
    // and write: timers were a large part of a token check's cost.
    std::atomic<std::int64_t> deadline{0};
    std::string out;  // the response being written
  };

  Impl(ServerOptions o, Pipeline p, Decorator d, InlinePipeline i, Pipeline b)
      : options(std::move(o)),
        pipeline(std::move(p)),
        decorate(std::move(d)),
        try_inline(std::move(i)),
        busy(std::move(b)),
        contexts(makeContexts(ioThreads())),
        io(*contexts.front()),
        // Started on demand and ended after a while idle: an idle server keeps one. Each
        // connection has at most one request here, so the connection limit bounds the queue.
        workers({.name = "gh-worker", .max_threads = options.worker_threads, .min_threads = 1}),
        // A queued login is an entry here, not a parked thread.
        hashing({.name = "gh-login",
                 .max_threads = options.hashing_threads,
                 .queue_capacity = options.hashing_queue}),
        acceptor(io),
        sweeper(io),
        signals(io, SIGINT, SIGTERM) {}

  // One single-threaded io_context per I/O thread: a connection lives on one of them, so its
  // handlers never cross threads and need no locks or wake-ups (a shared multi-threaded context
  // spent a fifth of the hot path in futex wake-ups).
  static std::vector<std::unique_ptr<asio::io_context>> makeContexts(std::size_t n) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(std::make_unique<asio::io_context>(1));
    return out;
  }

  std::size_t ioThreads() const {
    return options.io_threads != 0 ? options.io_threads
                                   : std::max(1U, std::thread::hardware_concurrency());
  }

  static std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  static void expiresAfter(Conn& conn, std::chrono::nanoseconds after) {
    conn.deadline.store(now() + after.count(), std::memory_order_relaxed);
  }

  // Every quarter second: a connection past its deadline is closed on its own thread, which
  // ends whatever read or write it waits for. Stops once shutdown has drained every connection.
  void sweep() {
    sweeper.expires_after(std::chrono::milliseconds(250));
    sweeper.async_wait([this](const beast::error_code& ec) {
      if (ec || (stopping.load() && open.load() == 0)) return;
      const auto t = now();
      {
        const std::lock_guard lock(mutex);
        for (auto& c : conns) {
          const auto d = c->deadline.load(std::memory_order_relaxed);
          if (d == 0 || d > t) continue;
          asio::post(c->socket.get_executor(), [c] {
            const auto again = c->deadline.load(std::memory_order_relaxed);
            if (again == 0 || again > Impl::now()) return;  // it moved on meanwhile
            beast::error_code ignored;
            c->socket.close(ignored);
          });
        }
      }
      sweep();
    });
  }

  Response serverResponse(int status, const Request* req) const {
    Response r = Response::detail(status, reasonPhrase(status));
    if (decorate) decorate(req, r);
    return r;
  }

  // One contiguous buffer per response, reused by the connection: no per-field allocations and
  // no scatter-gather serializer on the hot path.
  asio::awaitable<void> write(Conn& conn, Response&& r, unsigned version, bool keep_alive,
                              bool head_request = false) {
    serializeResponse(r, version, keep_alive, conn.out, head_request);
    expiresAfter(conn, options.request_timeout);
    co_await asio::async_write(conn.socket, asio::buffer(conn.out), kNoThrow);
    if (conn.out.capacity() > 64 * 1024) std::string().swap(conn.out);  // keep idle ones small
  }

  // After an early error response the client may still be sending: closing with unread input
  // would reset the connection before it reads the answer. Stop sending, then discard a bounded
  // amount of input for a short while.
  asio::awaitable<void> lingeringClose(Conn& conn) {
    beast::error_code ec;
    conn.socket.shutdown(tcp::socket::shutdown_send, ec);
    expiresAfter(conn, std::chrono::seconds(2));
    std::array<char, 16384> sink{};
    std::size_t discarded = 0;
    while (discarded < 4 * options.max_body_bytes) {
      auto [rec, n] = co_await conn.socket.async_read_some(asio::buffer(sink), kNoThrow);
      if (rec) break;
      discarded += n;
    }
  }

  Response runPipeline(Request& req) const {
    try {
      return pipeline(req);
    } catch (...) {
      try {
        return serverResponse(500, &req);
      } catch (...) {
        Response bare;  // no allocation: the coroutine must resume whatever happened
        bare.status = 500;
        return bare;
      }
    }
  }

  // Runs the pipeline on one of `pool`'s threads and resumes the calling coroutine on its own
  // I/O thread with the response, or with none when the pool's queue is full.
  asio::awaitable<std::optional<Response>> offload(core::WorkerPool& pool, Request& req) {
    const auto ex = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable),
                                            void(std::optional<Response>)>(
        [this, &pool, &req, ex](auto handler) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          auto resume = [h, ex](std::optional<Response> r) {
            asio::post(ex, [h, r = std::move(r)]() mutable { std::move (*h)(std::move(r)); });
          };
          if (!pool.trySubmit([this, &req, resume] { resume(runPipeline(req)); }))
            resume(std::nullopt);
        },
        asio::use_awaitable);
  }

  asio::awaitable<void> session(std::shared_ptr<Conn> conn,
                                std::list<std::shared_ptr<Conn>>::iterator self) {
    // Bounded: the parser consumes body bytes as they arrive, so only a header section, one
    // chunk-size line or trailer, and some read-ahead ever need to sit here. Unbounded, one
    // chunk extension or trailer without a line end grew memory without limit.
    beast::flat_buffer buffer(options.max_header_bytes + kReadAhead);
    std::string peer;
    {
      beast::error_code ec;
      auto ep = conn->socket.remote_endpoint(ec);
      if (!ec) peer = ep.address().to_string();
    }
    for (;;) {
      if (stopping.load()) break;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      parser.body_limit(options.max_body_bytes);
      expiresAfter(*conn, options.idle_timeout);
      auto [hec, hn] = co_await bhttp::async_read_header(conn->socket, buffer, parser, kNoThrow);
      if (hec == bhttp::error::header_limit || hec == bhttp::error::body_limit) {
        // A Content-Length over the limit is refused as soon as the headers are in.
        co_await write(*conn,
                       serverResponse(hec == bhttp::error::header_limit ? 431 : 413, nullptr), 11,
                       false);
        co_await lingeringClose(*conn);
        break;
      }
      if (hec) break;  // closed, timed out, malformed or cancelled by shutdown
      if (const int status = framingProblem(parser.get()); status != 0) {
        // RFC 9112 §6.1, §6.3, §3.2: a body whose length we cannot know for certain, or a 1.1
        // request without exactly one valid Host, is refused and the connection closed:
        // whatever follows cannot be trusted to be the next request.
        co_await write(*conn, serverResponse(status, nullptr), parser.get().version(), false);
        co_await lingeringClose(*conn);
        break;
      }
      conn->busy = true;
      beast::error_code bec;
      if (!parser.is_done()) {
        // Only requests with a body pay for a second read and its timer (GETs are done here).
        expiresAfter(*conn, options.request_timeout);
        auto [ec, bn] = co_await bhttp::async_read(conn->socket, buffer, parser, kNoThrow);
        bec = ec;
      }
      const auto& msg = parser.get();
      if (bec == bhttp::error::body_limit || bec == bhttp::error::buffer_overflow) {
        // Over the body limit (413), or a chunk-size line or trailer longer than the read buffer
        // (400): answered, then closed.
        co_await write(*conn, serverResponse(bec == bhttp::error::body_limit ? 413 : 400, nullptr),
                       msg.version(), false);
        co_await lingeringClose(*conn);
        break;
      }
      if (bec) break;

      Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      const auto q = req.target.find('?');
      req.path = req.target.substr(0, q);
      if (q != std::string::npos) req.query = req.target.substr(q + 1);
      req.headers.reserve(16);
      for (const auto& field : msg)
        req.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
      req.body = msg.body();
      req.peer_ip = peer;
      const bool keep_alive = msg.keep_alive();
      const unsigned version = msg.version();
      const bool head = msg.method() == bhttp::verb::head;

      // The hot path answers from memory right here; everything else goes to its lane's workers.
      Lane lane = Lane::Storage;
      if (try_inline) {
        std::variant<Response, Lane> attempt = Lane::Storage;
        try {
          attempt = try_inline(req);
        } catch (const std::exception&) {
          attempt = serverResponse(500, &req);
        }
        if (auto* quick = std::get_if<Response>(&attempt)) {
          co_await write(*conn, std::move(*quick), version, keep_alive && !stopping.load(), head);
          conn->busy = false;
          if (!keep_alive || stopping.load()) break;
          continue;
        }
        lane = std::get<Lane>(attempt);
      }
      // Hand the request to its lane's workers; this coroutine resumes on its I/O thread
      // afterwards. A full queue is answered at once.
      conn->deadline.store(0, std::memory_order_relaxed);
      auto res = co_await offload(lane == Lane::Hashing ? hashing : workers, req);
      if (!res) res = busy ? busy(req) : serverResponse(503, &req);
      co_await write(*conn, std::move(*res), version, keep_alive && !stopping.load(), head);
      conn->busy = false;
      if (!keep_alive || stopping.load()) break;
    }
    beast::error_code ignored;
    conn->deadline.store(0, std::memory_order_relaxed);
    conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
    conn->socket.close(ignored);
    const std::lock_guard lock(mutex);
    conns.erase(self);
    --open;
  }

  asio::awaitable<void> accept() {
    for (;;) {
      // Each connection lives on one single-threaded context: its coroutine and any cancellation
      // from shutdown never touch the socket concurrently.
      auto& target = *contexts[next_context++ % contexts.size()];
      auto [ec, socket] = co_await acceptor.async_accept(target, kNoThrow);
      if (ec) {
        if (stopping.load() || ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. EMFILE: keep serving those already connected
      }
      if (open.load() >= options.max_connections) {
        // Over the limit: answer 503 and close, rather than queueing unboundedly.
        auto conn = std::make_shared<Conn>(std::move(socket));
        co_await write(*conn, serverResponse(503, nullptr), 11, false);
        beast::error_code ignored;
        conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
        continue;
      }
      auto conn = std::make_shared<Conn>(std::move(socket));
      std::list<std::shared_ptr<Conn>>::iterator it;
      {
        const std::lock_guard lock(mutex);
        it = conns.insert(conns.end(), conn);
        ++open;
      }
      asio::co_spawn(conn->socket.get_executor(), session(conn, it), asio::detached);
    }
  }

  // Cancels the pending read of every idle connection (on its context); busy ones finish their
  // request first and then see `stopping`. With `all`, busy ones are cancelled too.
  void cancelConnections(bool all) {
    const std::lock_guard lock(mutex);
    for (auto& c : conns) {
      asio::post(c->socket.get_executor(), [c, all] {
        beast::error_code ec;
        if ((all || !c->busy.load()) && c->socket.is_open()) c->socket.cancel(ec);
      });
    }
  }

  void beginShutdown() {
    if (stopping.exchange(true)) return;
    beast::error_code ignored;
    acceptor.close(ignored);
    signals.cancel(ignored);
    cancelConnections(false);
    // In-flight requests get the grace period; then everything is cancelled.
    auto grace = std::make_shared<asio::steady_timer>(io, options.shutdown_grace);
    grace->async_wait([this, grace](const beast::error_code& ec) {
      if (!ec) cancelConnections(true);
    });
    pollUntilDrained(std::make_shared<asio::steady_timer>(io), grace);
  }

  // Until every connection is gone, closes those that became idle since shutdown began; then
  // cancels the grace timer so run() can return.
  void pollUntilDrained(const std::shared_ptr<asio::steady_timer>& poll,
                        const std::shared_ptr<asio::steady_timer>& grace) {
    poll->expires_after(std::chrono::milliseconds(20));
    poll->async_wait([this, poll, grace](const beast::error_code&) {
      if (open.load() == 0) {
        grace->cancel();
        sweeper.cancel();
        guards.clear();  // every context may now run out of work and return
        return;
      }
      cancelConnections(false);
      pollUntilDrained(poll, grace);
    });
  }

  ServerOptions options;
  Pipeline pipeline;
  Decorator decorate;
  InlinePipeline try_inline;
  Pipeline busy;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  asio::io_context& io;  // the first context: acceptor, signals, shutdown timers
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::size_t next_context = 0;  // touched only by the accept coroutine
  core::WorkerPool workers;
  core::WorkerPool hashing;
  tcp::acceptor acceptor;
  asio::steady_timer sweeper;
  asio::signal_set signals;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> open{0};
  std::mutex mutex;
  std::list<std::shared_ptr<Conn>> conns;
};

Server::Server(ServerOptions options, Pipeline pipeline, Decorator decorate,
               InlinePipeline try_inline, Pipeline busy)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(pipeline), std::move(decorate),
                                   std::move(try_inline), std::move(busy))) {}

Server::~Server() {
  impl_->workers.shutdown();
  impl_->hashing.shutdown();
}

core::Status Server::listen() {
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec)
    return core::makeError(core::Errc::InvalidArgument,
                           "GATEHOUSE_LISTEN: bad address " + impl_->options.host);
  const tcp::endpoint endpoint(address, impl_->options.port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return core::makeError(core::Errc::Unavailable, "cannot listen on " + impl_->options.host +
                                                        ":" + std::to_string(impl_->options.port) +
                                                        ": " + ec.message());
  }
  return {};
}

std::uint16_t Server::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void Server::run() {
  impl_->signals.async_wait([this](const beast::error_code& ec, int) {
    if (!ec) impl_->beginShutdown();
  });
  asio::co_spawn(impl_->io, impl_->accept(), asio::detached);
  impl_->sweep();
  for (auto& context : impl_->contexts) impl_->guards.push_back(asio::make_work_guard(*context));
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < impl_->contexts.size(); ++i) {
    threads.emplace_back([this, i] {
      core::nameThisThread("gh-io");
      impl_->contexts[i]->run();
    });
  }
  impl_->io.run();
  for (auto& t : threads) t.join();
}

std::size_t Server::hashingQueueDepth() const { return impl_->hashing.queueDepth(); }

void Server::stop() {
  asio::post(impl_->io, [this] { impl_->beginShutdown(); });
}

}  // namespace gatehouse::http
