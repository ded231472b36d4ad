#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

struct ssl_st;
struct redisReader;

namespace gatehouse::dynlib {
struct LibHiredis;
struct LibSsl;
}  // namespace gatehouse::dynlib

namespace gatehouse::state {

struct RedisAddress;
struct RedisReply;

// One connection to Redis: a TCP socket, TLS over it for rediss:// (TLS 1.2 or later, the
// certificate verified against the system's roots and REDIS_CA_FILE, the URL's host name or IP
// address checked against it), and hiredis's reader for the RESP protocol. Blocking with a
// timeout on every read and write. Not thread-safe: one user at a time. hiredis, and libssl for
// rediss://, are loaded at the first connection (dynlib).
class RedisConnection {
 public:
  // Connects, shakes hands, and authenticates and selects the database as the address says.
  // Unavailable naming the host (never the password) on failure.
  [[nodiscard]] static core::Result<std::unique_ptr<RedisConnection>> open(
      const RedisAddress& address, std::chrono::milliseconds timeout);

  // Loads what a connection to `address` needs: hiredis, and libssl for rediss://. Unavailable
  // naming the Debian package when one cannot be loaded; the start checks it before connecting.
  [[nodiscard]] static core::Result<const dynlib::LibHiredis*> libraries(
      const RedisAddress& address);

  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;
  ~RedisConnection();

  // Sends one command and waits for its reply. A Redis error reply is Internal; a broken
  // connection Unavailable (and broken() is true afterwards).
  [[nodiscard]] core::Result<RedisReply> command(const std::vector<std::string_view>& args);

  // Sends one command without waiting for its reply (pub/sub).
  [[nodiscard]] core::Status send(const std::vector<std::string_view>& args);
  // A reply already received, if any; Unavailable on a protocol error.
  [[nodiscard]] core::Result<std::optional<RedisReply>> buffered();
  // Waits up to `wait` for data and reads what came; false when the connection failed or closed.
  bool receive(std::chrono::milliseconds wait);

  bool broken() const { return broken_; }
  // For one taken from an idle pool: false (and broken) when Redis closed or reset it meanwhile
  // (a restart), so the caller connects afresh instead of failing a request on it.
  bool stillOpen();

 private:
  explicit RedisConnection(const dynlib::LibHiredis& redis) : redis_(redis) {}
  bool writeAll(std::string_view bytes);
  bool readSome();

  const dynlib::LibHiredis& redis_;
  const dynlib::LibSsl* tls_ = nullptr;  // set for rediss:// only
  int fd_ = -1;
  ssl_st* ssl_ = nullptr;
  redisReader* reader_ = nullptr;
  bool broken_ = false;
};

}  // namespace gatehouse::state
