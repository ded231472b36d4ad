#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "state/bus.hpp"
#include "state/limits.hpp"
#include "state/once.hpp"
#include "state/redis_connection.hpp"

namespace gatehouse::state {

// redis://[[user]:password@]host[:port][/db], or rediss://... for TLS (managed Redis services):
// the server's certificate is verified against the system's roots and `ca_file` (REDIS_CA_FILE),
// and must name the URL's host.
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;
  std::string password;
  int db = 0;
  bool tls = false;
  std::string ca_file;
};
[[nodiscard]] core::Result<RedisAddress> parseRedisUrl(std::string_view url);

// One reply, converted from hiredis's.
struct RedisReply {
  enum class Type { Nil, Integer, String, Status, Array, Error } type = Type::Nil;
  std::int64_t integer = 0;
  std::string text;
  std::vector<RedisReply> elements;
};

// Synchronous commands over a small pool of connections, reconnecting as needed; every command
// has a timeout. Thread-safe. Errors are Unavailable (Redis down or too slow) or Internal (Redis
// refused the command).
class RedisClient {
 public:
  explicit RedisClient(RedisAddress address,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(1000),
                       std::size_t max_idle = 8)
      : address_(std::move(address)), timeout_(timeout), max_idle_(max_idle) {}
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;
  ~RedisClient() = default;

  // Arguments go as separate bulk strings (binary-safe, never parsed as a command line).
  [[nodiscard]] core::Result<RedisReply> command(std::initializer_list<std::string_view> args);

  // A new connection with AUTH and SELECT done (for the subscriber).
  [[nodiscard]] core::Result<std::unique_ptr<RedisConnection>> connect() const;

 private:
  RedisAddress address_;
  std::chrono::milliseconds timeout_;
  std::size_t max_idle_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;
};

// Counters shared by every node, counted by one Lua script per hit, so a key's window opens at its
// first hit on any node (the same semantics as LocalRateLimiter). Redis down → Unavailable.
class RedisRateLimiter final : public RateLimiter {
 public:
  explicit RedisRateLimiter(RedisClient& redis) : redis_(redis) {}
  [[nodiscard]] core::Result<Decision> hit(std::string_view key, std::uint32_t limit,
                                           std::chrono::seconds window, std::int64_t now) override;
  void reset(std::string_view key) override;

 private:
  RedisClient& redis_;
};

// LocalLoginGuard's rules with the per-account state in Redis hashes (updated by Lua scripts, so
// concurrent failures on several nodes all count).
class RedisLoginGuard final : public LoginGuard {
 public:
  RedisLoginGuard(RedisClient& redis, LockoutPolicy policy) : redis_(redis), policy_(policy) {}
  [[nodiscard]] core::Result<Gate> check(std::string_view account, std::int64_t now) override;
  [[nodiscard]] core::Result<bool> failed(std::string_view account, std::int64_t now) override;
  [[nodiscard]] core::Result<Attempt> attempt(std::string_view account, std::int64_t now) override;
  void succeeded(std::string_view account) override;

 private:
  RedisClient& redis_;
  LockoutPolicy policy_;
  // A guard script run on `account`'s key with now and the policy as its arguments.
  core::Result<RedisReply> evalWithPolicy(std::string_view script, std::string_view account,
                                          std::int64_t now);
};

// SET NX EX to store, GETDEL to take: single use across every node.
class RedisOneTimeStore final : public OneTimeStore {
 public:
  explicit RedisOneTimeStore(RedisClient& redis) : redis_(redis) {}
  // A value is stored as "<ms>:<value>" (now, or the epoch when later) by a script that runs the
  // epoch check below first; taking or peeking it runs the check again, and a value stored
  // before the epoch is none.
  [[nodiscard]] core::Result<bool> putIfAbsent(std::string_view key, std::string_view value,
                                               std::chrono::seconds ttl,
                                               std::chrono::milliseconds now) override;
  [[nodiscard]] core::Result<std::optional<std::string>> take(
      std::string_view key, std::chrono::milliseconds now) override;
  [[nodiscard]] core::Result<std::optional<std::string>> peek(
      std::string_view key, std::chrono::milliseconds now) override;
  // Where Redis's memory begins is a hash of its own (gatehouse:once:epoch, no expiry: `at` in
  // Unix milliseconds, the `run` id of the Redis process that set it, and `hi`, the latest time a
  // value was stored with). Each put, spend, take and peek, in its script, moves it when it names
  // another Redis process than the one answering (a restart, from a stale snapshot or none, a
  // failover: spent markers written since are gone) or is gone itself: to now, and past the epoch
  // before it and past `hi`, never back.
  [[nodiscard]] core::Result<bool> spend(std::string_view key, std::chrono::seconds ttl,
                                         std::chrono::milliseconds issued_at,
                                         std::chrono::milliseconds now) override;
  // The same check without a spend, so that the epoch moves when a node first sees the Redis
  // process rather than at the first spend after (which would refuse what began in between).
  // Also logs an error when Redis may evict keys (maxmemory with a policy other than
  // noeviction): spent markers would go first.
  [[nodiscard]] core::Status vouchFrom(std::chrono::milliseconds now) override;

 private:
  // `script` (kTakeScript or kPeekScript) on `key`: the value without its time.
  core::Result<std::optional<std::string>> read(std::string_view script, std::string_view key,
                                                std::chrono::milliseconds now);
  RedisClient& redis_;
};

// Notifications over Redis pub/sub on one channel. A background thread holds the subscription,
// pings Redis every second, and reconnects (with back-off) when the connection drops; the feed is
// live only between a successful resync and the next failure.
class RedisBus final : public Bus {
 public:
  RedisBus(RedisClient& redis, std::string channel) : redis_(redis), channel_(std::move(channel)) {}
  RedisBus(const RedisBus&) = delete;
  RedisBus& operator=(const RedisBus&) = delete;
  ~RedisBus() override;

  [[nodiscard]] core::Status publish(std::string_view message) override;
  void start(Handler handler, Resync resync) override;
  bool live() const override { return live_.load(std::memory_order_acquire); }
  bool awaitFirstAttempt(std::chrono::milliseconds limit) override;

 private:
  void run();
  void firstAttemptEnded();
  // Listens on one connection until it fails or stop is requested: why it ended, for the log.
  std::string listen(RedisConnection& connection);

  RedisClient& redis_;
  const std::string channel_;
  Handler handler_;
  Resync resync_;
  std::atomic<bool> live_{false};
  std::atomic<bool> stop_{false};
  std::mutex attempt_mutex_;
  std::condition_variable attempt_ended_;
  bool attempted_ = false;  // guarded by attempt_mutex_
  std::thread thread_;
};

}  // namespace gatehouse::state
