// The only translation unit (with asio_impl.cpp) that includes Boost.Asio.
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
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <list>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
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
#include <boost/system/error_code.hpp>

#include "core/blocking.hpp"
#include "core/ip_address.hpp"
#include "core/this_thread.hpp"
#include "core/worker_pool.hpp"
#include "http/request_parser.hpp"

namespace gatehouse::http {
namespace {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using tcp = asio::ip::tcp;
// Each connection's socket and coroutine are bound to its io_context's own executor type, not
// the type-erased any_io_executor: every operation and resumption then skips a polymorphic
// executor copy.
using Executor = asio::io_context::executor_type;
template <typename T>
using Awaitable = asio::awaitable<T, Executor>;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
constexpr asio::use_awaitable_t<Executor> kAwaitable;
constexpr auto kNoThrow = asio::as_tuple(kAwaitable);
// How long the accept loop waits after a failed accept (out of file descriptors) before the next.
constexpr std::chrono::milliseconds kAcceptPause{100};

// A connection's unread bytes: small while idle, grown (doubling) when a request needs more, up
// to a fixed bound. A pending read owns its free space, so an idle connection keeps only the
// initial allocation.
class ReadBuffer {
 public:
  static constexpr std::size_t kInitial = 1024;

  std::string_view data() const { return {bytes_.get() + begin_, end_ - begin_}; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Room for the next read: the unread bytes moved to the front, the buffer doubled when they
  // fill it or when the last read filled the room it had (a large body arriving), never past
  // `max`. Empty when the buffer is full at `max`.
  asio::mutable_buffer room(std::size_t max) {
    if (capacity_ == 0) reallocate(kInitial);
    if (begin_ > 0) {
      std::memmove(bytes_.get(), bytes_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if ((end_ == capacity_ || grow_) && capacity_ < max) reallocate(std::min(max, 2 * capacity_));
    grow_ = false;
    return asio::buffer(bytes_.get() + end_, capacity_ - end_);
  }
  void commit(std::size_t n, std::size_t offered) {
    end_ += n;
    grow_ = n == offered;
  }
  // Back to the initial size between requests when what is left fits in it: a connection that
  // once took a large request (and a byte more) does not keep its buffer while idle.
  void shrink() {
    grow_ = false;
    if (capacity_ <= kInitial || end_ - begin_ > kInitial) return;
    if (begin_ == end_) {
      bytes_.reset();
      capacity_ = 0;
      begin_ = end_ = 0;
      return;
    }
    reallocate(kInitial);
  }

 private:
  // A buffer of `capacity` holding the unread bytes at its front (they must fit).
  void reallocate(std::size_t capacity) {
    auto fresh = std::make_unique_for_overwrite<char[]>(capacity);
    if (end_ > begin_) std::memcpy(fresh.get(), bytes_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    bytes_ = std::move(fresh);
    capacity_ = capacity;
  }

  std::unique_ptr<char[]> bytes_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool grow_ = false;
};

}  // namespace

constexpr std::size_t kReadAhead = 64 * 1024;

struct Server::Impl {
  // One accepted connection; `busy` while a request is being handled, so shutdown closes only
  // idle ones.
  struct Conn {
    explicit Conn(Socket s) : socket(std::move(s)) {}
    Socket socket;
    // The peer's address in one spelling (core::canonicalAddress), read once when it opened: on
    // a dual-stack listener an IPv4 client is "::ffff:a.b.c.d", which per-address limits took
    // for one IPv6 /64 shared by every IPv4 client (a review).
    std::string peer;
    std::string client;  // the address bucket it counts under; empty: not counted
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
        outbound({.name = "gh-outbound",
                  .max_threads = options.outbound_threads,
                  .queue_capacity = options.outbound_queue}),
        acceptor(io),
        sweeper(io),
        heart(io),
        signals(io, SIGINT, SIGTERM, SIGHUP) {}

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
                                   : std::max(1U, std::thread::hardware_concurrency() / 2);
  }

  // The coarse monotonic clock (a few milliseconds' resolution, read without the time counter):
  // deadlines are seconds long and it is read twice per request.
  static std::int64_t now() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }

  static void expiresAfter(Conn& conn, std::chrono::nanoseconds after) {
    conn.deadline.store(now() + after.count(), std::memory_order_relaxed);
  }

  // Every quarter second: a connection past its deadline is closed on its own thread, which
  // ends whatever read or write it waits for. Stops once shutdown has drained every connection.
  void sweep() {
    sweeper.expires_after(std::chrono::milliseconds(250));
    sweeper.async_wait([this](const error_code& ec) {
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
            error_code ignored;
            c->socket.close(ignored);
          });
        }
      }
      sweep();
    });
  }

  // Every heartbeat_every: a handler posted to each context, and the last of them to run beats.
  // A stuck I/O thread never runs its handler, so the beats stop; no new round is posted while
  // one is unanswered, so a stuck thread does not pile them up.
  void heartbeat() {
    heart.expires_after(options.heartbeat_every);
    heart.async_wait([this](const error_code& ec) {
      if (ec || stopping.load()) return;
      if (beat_round == nullptr || beat_round->load() == 0) {
        beat_round = std::make_shared<std::atomic<std::size_t>>(contexts.size());
        for (auto& context : contexts) {
          asio::post(*context, [this, round = beat_round] {
            // The beat itself on `io`, where shutdown begins: none follows on_shutdown.
            if (round->fetch_sub(1) == 1) {
              asio::post(io, [this] {
                if (!stopping.load()) options.on_heartbeat();
              });
            }
          });
        }
      }
      heartbeat();
    });
  }

  Response serverResponse(int status, const Request* req) const {
    Response r = Response::detail(status, reasonPhrase(status));
    if (decorate) decorate(req, r);
    return r;
  }

  static Response retryLater(Response r) {
    r.set("Retry-After", "1");
    return r;
  }

  static std::string peerOf(const Socket& socket) {
    error_code ec;
    const auto ep = socket.remote_endpoint(ec);
    if (ec) return {};
    std::string peer = ep.address().to_string();
    return core::canonicalAddress(peer).value_or(std::move(peer));
  }

  // The address bucket a new connection from `peer` counts under; empty when it is not counted.
  std::string clientOf(const std::string& peer) const {
    if (options.max_connections_per_client == 0 || peer.empty()) return {};
    if (options.unlimited_peers.contains(peer)) return {};
    return core::addressBucket(peer);
  }

  // The bucket a request's body counts under: its client's, through the trusted proxies (whose
  // own address every client behind them shares: a review filled the budget through one).
  std::string bodyClientOf(const Conn& conn, const Request& req) const {
    // No per-client share where connections are not limited per client either (0: many people
    // behind one address, a review).
    if (options.max_connections_per_client == 0) return {};
    return core::addressBucket(
        core::forwardedClient(conn.peer, req.headers, options.unlimited_peers));
  }

  // One contiguous buffer per response, reused by the connection: no per-field allocations and
  // no scatter-gather serializer on the hot path.
  // False when the response could not be sent whole (the connection is then closed).
  Awaitable<bool> write(Conn& conn, Response&& r, unsigned version, bool keep_alive,
                        bool head_request = false) {
    serializeResponse(r, version, keep_alive, conn.out, head_request);
    // A large body is in conn.out now: its first copy goes before the wait on a client that may
    // never read (an outside attack: 250 such connections held twice each /openapi.json).
    if (r.body.capacity() > 16 * 1024) std::string().swap(r.body);
    expiresAfter(conn, options.request_timeout);
    // Sent right away when the socket has room (almost always): an asynchronous write that
    // completes at once still costs a trip through the scheduler before this coroutine resumes.
    error_code ec;
    std::size_t sent = 0;
    if (conn.socket.non_blocking()) sent = conn.socket.write_some(asio::buffer(conn.out), ec);
    if (sent < conn.out.size() && (!ec || ec == asio::error::would_block)) {
      auto [wec, n] =
          co_await asio::async_write(conn.socket, asio::buffer(conn.out) + sent, kNoThrow);
      sent += wec ? 0 : n;
    }
    const bool whole = sent == conn.out.size();
    if (conn.out.capacity() > 64 * 1024) std::string().swap(conn.out);  // keep idle ones small
    co_return whole;
  }

  // After an early error response the client may still be sending: closing with unread input
  // would reset the connection before it reads the answer. Stop sending, then discard a bounded
  // amount of input for a short while.
  Awaitable<void> lingeringClose(Conn& conn) {
    error_code ec;
    conn.socket.shutdown(Socket::shutdown_send, ec);
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
  Awaitable<std::optional<Response>> offload(core::WorkerPool& pool, Request& req) {
    const auto ex = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<Executor>,
                                            void(std::optional<Response>)>(
        [this, &pool, &req, ex](auto handler) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          auto resume = [h, ex](std::optional<Response> r) {
            asio::post(ex, [h, r = std::move(r)]() mutable { std::move (*h)(std::move(r)); });
          };
          if (!pool.trySubmit([this, &req, resume] { resume(runPipeline(req)); }))
            resume(std::nullopt);
        },
        kAwaitable);
  }

  // Reads until `parser` has a whole request or refuses one; false when the connection ended
  // first (closed, timed out, cancelled by shutdown). The idle deadline covers the wait and the
  // header section; a request with a body then gets request_timeout for it. `defer`: a response
  // on this connection was just sent and its I/O thread serves other connections too.
  // The request body memory one connection holds, counted in `body_bytes` (at most
  // max_body_memory for all connections together, and an eighth of it, or one whole body when
  // that is more, for one client: a review filled the whole budget from one address and refused
  // every other client's body); given back when the request is done. Headers announcing a body
  // with no byte of it sent hold the parser's 4 KiB reserve, which is not counted.
  struct BodyHold {
    Impl& server;
    std::string client;  // the request's client bucket (bodyClientOf), once its headers are in
    std::size_t held = 0;
    bool over = false;  // a budget was spent: the request is refused

    // Small bodies go uncounted (the connection limits bound them): a token check's request
    // touches no shared counter.
    static constexpr std::size_t kUncounted = 4096;

    // Whether `more` bytes fit the budgets, the client's holding `mine` (under body_mutex).
    bool within(std::size_t more, bool counted_per_client, std::size_t mine) const {
      return server.body_bytes + more <= server.options.max_body_memory &&
             (!counted_per_client || mine + more <= server.bodyShare());
    }

    // Whether a body of `bytes` for `who` would fit the budgets as they stand (counts nothing).
    bool fits(std::size_t bytes, const std::string& who) const {
      if (bytes <= kUncounted) return true;
      const std::lock_guard lock(server.body_mutex);
      const auto mine =
          who.empty() ? server.body_per_client.end() : server.body_per_client.find(who);
      return within(bytes, !who.empty(), mine == server.body_per_client.end() ? 0 : mine->second);
    }

    // Counts `bytes` (the body's memory now); false when that would pass a budget.
    bool grow(std::size_t bytes) {
      if (bytes <= held || bytes <= kUncounted) return true;
      const std::size_t more = bytes - held;
      const std::lock_guard lock(server.body_mutex);
      const auto mine =
          client.empty() ? server.body_per_client.end() : server.body_per_client.find(client);
      if (!within(more, !client.empty(), mine == server.body_per_client.end() ? 0 : mine->second))
        return false;
      if (!client.empty()) server.body_per_client[client] += more;
      server.body_bytes += more;
      held = bytes;
      return true;
    }
    void release() {
      over = false;
      if (held == 0) {
        client.clear();
        return;
      }
      const std::lock_guard lock(server.body_mutex);
      server.body_bytes -= held;
      if (!client.empty()) {
        const auto mine = server.body_per_client.find(client);
        if (mine != server.body_per_client.end() && (mine->second -= held) == 0)
          server.body_per_client.erase(mine);
      }
      held = 0;
      client.clear();
    }
    ~BodyHold() { release(); }
  };

  std::size_t bodyShare() const {
    return std::max(options.max_body_bytes, options.max_body_memory / 8);
  }

  // The interim answer to `Expect: 100-continue`; false when the connection failed.
  static Awaitable<bool> sendContinue(Conn& conn) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    error_code ec;
    std::size_t sent = 0;
    if (conn.socket.non_blocking()) sent = conn.socket.write_some(asio::buffer(kContinue), ec);
    if (ec && ec != asio::error::would_block) co_return false;
    if (sent < kContinue.size()) {
      auto [wec, n] =
          co_await asio::async_write(conn.socket, asio::buffer(kContinue) + sent, kNoThrow);
      if (wec) co_return false;
    }
    co_return true;
  }

  Awaitable<bool> readRequest(Conn& conn, ReadBuffer& in, RequestParser& parser, bool defer,
                              BodyHold& body) {
    const std::size_t max = options.max_header_bytes + kReadAhead;
    expiresAfter(conn, options.idle_timeout);
    bool body_timed = false;
    for (;;) {
      std::size_t used = 0;
      const auto result = parser.parse(in.data(), used);
      in.consume(used);
      // The body's memory: what its string holds (it grows by doubling from the parser's 4 KiB,
      // which is all a body announced but not sent holds).
      // At most one whole body's worth: a chunked body's doubling (up to twice its size) is not
      // counted beyond it, so one body of the largest size always fits a budget that size.
      const std::size_t bytes = std::min(parser.request().body.capacity(), options.max_body_bytes);
      if (bytes > BodyHold::kUncounted && body.held == 0)
        body.client = bodyClientOf(conn, parser.request());
      if (!body.grow(bytes)) {
        body.over = true;
        co_return true;
      }
      if (result != RequestParser::Result::NeedMore) co_return true;
      if (defer && in.data().empty()) {
        // Just after a response the client has usually not sent its next request yet, and a
        // read now is a receive that finds nothing (Asio tries one before waiting) and then a
        // trip through epoll. Let this thread's other ready connections go first: by the time
        // this one reads again its request has often arrived, and one receive takes it. (A
        // shutdown begun meanwhile cancels the read that follows, or answers a request that
        // came with Connection: close.)
        defer = false;
        co_await asio::post(conn.socket.get_executor(), kAwaitable);
        continue;
      }
      if (parser.headerDone() && !body_timed) {
        // Only requests with a body pay for a second deadline (GETs are done with the headers).
        conn.busy = true;
        expiresAfter(conn, options.request_timeout);
        body_timed = true;
        // A client that asked holds its body back until it reads this (curl for a second, .NET
        // for 350 ms). Not when the body has begun to arrive: it did not wait (RFC 9110 §10.1.1).
        if (parser.expectsContinue() && in.data().empty() && parser.request().body.empty()) {
          // A body the budget cannot take now is refused before the client sends it (a review:
          // the client uploaded it to get the 503 after).
          if (const auto announced = parser.announcedBodyBytes();
              announced && !body.fits(static_cast<std::size_t>(std::min<std::uint64_t>(
                                          *announced, options.max_body_bytes)),
                                      bodyClientOf(conn, parser.request()))) {
            body.over = true;
            co_return true;
          }
          if (!co_await sendContinue(conn)) co_return false;
        }
      }
      const auto room = in.room(max);
      if (room.size() == 0) co_return false;  // cannot happen: the parser refuses first
      auto [ec, n] = co_await conn.socket.async_read_some(room, kNoThrow);
      if (ec) co_return false;
      in.commit(n, room.size());
    }
  }

  Awaitable<void> session(std::shared_ptr<Conn> conn,
                          std::list<std::shared_ptr<Conn>>::iterator self,
                          std::size_t* thread_sessions) {
    ++*thread_sessions;
    {
      // Responses are sent at once from this coroutine; a full socket buffer falls back to an
      // asynchronous write.
      error_code ec;
      conn->socket.non_blocking(true, ec);
    }
    // Bounded: the parser consumes body bytes as they arrive, so only a header section, one
    // chunk-size line or trailer, and some read-ahead ever need to sit here.
    ReadBuffer in;
    RequestParser parser(
        {.max_header_bytes = options.max_header_bytes, .max_body_bytes = options.max_body_bytes});
    bool served = false;
    BodyHold body{.server = *this};
    for (;;) {
      if (stopping.load()) break;
      parser.reset();
      body.release();
      in.shrink();
      if (!co_await readRequest(*conn, in, parser, served && *thread_sessions > 1, body)) break;
      served = true;
      if (body.over) {
        // What it sent so far is dropped; the rest of its body would be read as a next request.
        parser.reset();
        body.release();
        conn->busy = true;
        co_await write(*conn, retryLater(serverResponse(503, nullptr)), 11, false);
        co_await lingeringClose(*conn);
        break;
      }
      if (parser.refusal() != 0) {
        // Over a limit (431, 413), a version we do not speak (505), a coding we do not
        // implement (501), or framing that cannot be trusted (400): whatever follows cannot be
        // trusted to be the next request, so the connection is answered and closed.
        conn->busy = true;  // shutdown lets the answer finish
        co_await write(*conn, serverResponse(parser.refusal(), nullptr), parser.version(), false);
        co_await lingeringClose(*conn);
        break;
      }
      conn->busy = true;
      Request& req = parser.request();
      req.peer_ip = conn->peer;
      const bool keep_alive = parser.keepAlive();
      const unsigned version = parser.version();
      const bool head = parser.isHead();

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
          const bool sent = co_await write(*conn, std::move(*quick), version,
                                           keep_alive && !stopping.load(), head);
          conn->busy = false;
          if (!sent || !keep_alive || stopping.load()) break;
          continue;
        }
        lane = std::get<Lane>(attempt);
      }
      // Hand the request to its lane's workers; this coroutine resumes on its I/O thread
      // afterwards. A full queue is answered at once.
      conn->deadline.store(0, std::memory_order_relaxed);
      auto res = co_await offload(lane == Lane::Hashing    ? hashing
                                  : lane == Lane::Outbound ? outbound
                                                           : workers,
                                  req);
      if (!res) res = busy ? busy(req) : serverResponse(503, &req);
      const bool sent =
          co_await write(*conn, std::move(*res), version, keep_alive && !stopping.load(), head);
      conn->busy = false;
      if (!sent || !keep_alive || stopping.load()) break;
    }
    error_code ignored;
    conn->deadline.store(0, std::memory_order_relaxed);
    conn->socket.shutdown(Socket::shutdown_send, ignored);
    conn->socket.close(ignored);
    --*thread_sessions;
    const std::lock_guard lock(mutex);
    conns.erase(self);
    --open;
    if (!conn->client.empty()) {
      const auto counted = per_client.find(conn->client);
      if (counted != per_client.end() && --counted->second == 0) per_client.erase(counted);
    }
  }

  Awaitable<void> accept() {
    for (;;) {
      // Each connection lives on one single-threaded context: its coroutine and any cancellation
      // from shutdown never touch the socket concurrently.
      const std::size_t at = next_context++ % contexts.size();
      auto& target = *contexts[at];
      auto [ec, socket] = co_await acceptor.async_accept(target, kNoThrow);
      if (ec) {
        if (stopping.load() || ec == asio::error::operation_aborted) co_return;
        // E.g. EMFILE: keep serving those already connected, said, and paused a while. Retried
        // at once, the accept failed again at once: a core spun while new clients waited in the
        // backlog, and nothing said why (an outside attack, 1020 idle connections under
        // `ulimit -n 1024`).
        accept_failing = true;
        if (options.on_accept) {
          const char* advice = ec == asio::error::no_descriptors
                                   ? " (the process's open-file limit: ulimit -n, systemd's "
                                     "LimitNOFILE)"
                               : ec.value() == ENFILE
                                   ? " (the system's open-file table: fs.file-max)"
                                   : "";
          options.on_accept(core::makeError(core::Errc::Unavailable, ec.message() + advice));
        }
        asio::basic_waitable_timer<std::chrono::steady_clock,
                                   asio::wait_traits<std::chrono::steady_clock>, Executor>
            pause(io.get_executor(), kAcceptPause);
        (void)co_await pause.async_wait(kNoThrow);
        continue;
      }
      if (accept_failing) {
        accept_failing = false;
        if (options.on_accept) options.on_accept({});
      }
      auto conn = std::make_shared<Conn>(std::move(socket));
      conn->peer = peerOf(conn->socket);
      conn->client = clientOf(conn->peer);
      std::list<std::shared_ptr<Conn>>::iterator it;
      bool admitted = false;
      {
        const std::lock_guard lock(mutex);
        const bool client_full =
            !conn->client.empty() && per_client.contains(conn->client) &&
            per_client.find(conn->client)->second >= options.max_connections_per_client;
        if (open.load() < options.max_connections && !client_full) {
          it = conns.insert(conns.end(), conn);
          ++open;
          if (!conn->client.empty()) ++per_client[conn->client];
          admitted = true;
        }
      }
      if (!admitted) {
        // Over a limit: answer 503 and close, rather than queueing unboundedly.
        co_await write(*conn, retryLater(serverResponse(503, nullptr)), 11, false);
        error_code ignored;
        conn->socket.shutdown(Socket::shutdown_both, ignored);
        continue;
      }
      asio::co_spawn(conn->socket.get_executor(), session(conn, it, &sessions_on[at].n),
                     asio::detached);
    }
  }

  // Cancels the pending read of every idle connection (on its context); busy ones finish their
  // request first and then see `stopping`. With `all`, busy ones are cancelled too.
  void cancelConnections(bool all) {
    const std::lock_guard lock(mutex);
    for (auto& c : conns) {
      asio::post(c->socket.get_executor(), [c, all] {
        error_code ec;
        if ((all || !c->busy.load()) && c->socket.is_open()) c->socket.cancel(ec);
      });
    }
  }

  // SIGINT and SIGTERM shut down; SIGHUP asks on_hangup to reopen files, and waits again.
  void awaitSignal() {
    signals.async_wait([this](const error_code& ec, int signal) {
      if (ec) return;
      if (signal != SIGHUP) {
        beginShutdown();
        return;
      }
      if (options.on_hangup) options.on_hangup();
      awaitSignal();
    });
  }

  void beginShutdown() {
    if (stopping.exchange(true)) return;
    if (options.on_shutdown) options.on_shutdown();
    error_code ignored;
    acceptor.close(ignored);
    signals.cancel(ignored);
    heart.cancel();
    cancelConnections(false);
    // In-flight requests get the grace period; then everything is cancelled.
    auto grace = std::make_shared<asio::steady_timer>(io, options.shutdown_grace);
    grace->async_wait([this, grace](const error_code& ec) {
      if (!ec) cancelConnections(true);
    });
    pollUntilDrained(std::make_shared<asio::steady_timer>(io), grace);
  }

  // Until every connection is gone, closes those that became idle since shutdown began; then
  // cancels the grace timer so run() can return.
  void pollUntilDrained(const std::shared_ptr<asio::steady_timer>& poll,
                        const std::shared_ptr<asio::steady_timer>& grace) {
    poll->expires_after(std::chrono::milliseconds(20));
    poll->async_wait([this, poll, grace](const error_code&) {
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
  // The connections each context serves, counted by their sessions on its own thread.
  struct alignas(64) Count {
    std::size_t n = 0;
  };
  std::vector<Count> sessions_on = std::vector<Count>(contexts.size());
  asio::io_context& io;  // the first context: acceptor, signals, shutdown timers
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::size_t next_context = 0;  // touched only by the accept coroutine
  core::WorkerPool workers;
  core::WorkerPool hashing;
  core::WorkerPool outbound;
  Acceptor acceptor;
  asio::steady_timer sweeper;
  bool accept_failing = false;  // the accept loop's own (one coroutine)
  asio::steady_timer heart;
  std::shared_ptr<std::atomic<std::size_t>> beat_round;  // contexts yet to answer; on `io` only
  asio::signal_set signals;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> open{0};
  std::mutex body_mutex;       // guards the two below (BodyHold)
  std::size_t body_bytes = 0;  // request body bytes held, all connections
  std::unordered_map<std::string, std::size_t> body_per_client;  // and per client bucket
  std::mutex mutex;
  std::list<std::shared_ptr<Conn>> conns;
  std::unordered_map<std::string, std::size_t> per_client;  // open connections per bucket
};

Server::Server(ServerOptions options, Pipeline pipeline, Decorator decorate,
               InlinePipeline try_inline, Pipeline busy)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(pipeline), std::move(decorate),
                                   std::move(try_inline), std::move(busy))) {}

Server::~Server() {
  impl_->workers.shutdown();
  impl_->hashing.shutdown();
  impl_->outbound.shutdown();
}

core::Status Server::listen() {
  error_code ec;
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
  error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void Server::run() {
  impl_->awaitSignal();
  asio::co_spawn(impl_->io, impl_->accept(), asio::detached);
  impl_->sweep();
  if (impl_->options.on_heartbeat && impl_->options.heartbeat_every.count() > 0) impl_->heartbeat();
  for (auto& context : impl_->contexts) impl_->guards.push_back(asio::make_work_guard(*context));
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < impl_->contexts.size(); ++i) {
    threads.emplace_back([this, i] {
      core::nameThisThread("gh-io");
      const core::NoWaitScope io_thread;
      impl_->contexts[i]->run();
    });
  }
  {
    const core::NoWaitScope io_thread;
    impl_->io.run();
  }
  for (auto& t : threads) t.join();
}

std::size_t Server::hashingQueueDepth() const { return impl_->hashing.queueDepth(); }

void Server::stop() {
  asio::post(impl_->io, [this] { impl_->beginShutdown(); });
}

}  // namespace gatehouse::http
