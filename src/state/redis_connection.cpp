#include "state/redis_connection.hpp"

#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dynlib/libhiredis.hpp"
#include "dynlib/libssl.hpp"
#include "state/redis.hpp"

namespace gatehouse::state {
namespace {

using core::Errc;
using core::makeError;

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::Integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = r->type == REDIS_REPLY_STRING   ? RedisReply::Type::String
                 : r->type == REDIS_REPLY_STATUS ? RedisReply::Type::Status
                                                 : RedisReply::Type::Error;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::Array;
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

std::string where(const RedisAddress& a) { return a.host + ":" + std::to_string(a.port); }

std::string tlsError() {
  const unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) return "TLS handshake failed";
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

// A TCP connection within `timeout`, then blocking with that timeout on each read and write.
core::Result<int> connectTcp(const RedisAddress& a, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(a.port);
  std::string host = a.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return makeError(Errc::Unavailable,
                     "cannot resolve Redis host " + a.host + ": " + gai_strerror(rc));
  std::string last = "no address";
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = std::strerror(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    pollfd pfd{fd, POLLOUT, 0};
    int error = 0;
    socklen_t len = sizeof error;
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
      last = error != 0 ? std::strerror(error) : "timed out";
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0)
    return makeError(Errc::Unavailable, "cannot connect to Redis at " + where(a) + ": " + last);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const timeval tv{static_cast<time_t>(timeout.count() / 1000),
                   static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// SNI; SSL_set_tlsext_host_name is a macro with a C cast.
bool setServerName(const dynlib::LibSsl& tls, SSL* ssl, const char* host) {
  char* name = const_cast<char*>(host);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  return tls.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, name) == 1;
}

// TLS over `fd`: the peer must present a certificate chaining to the system's roots or the CA
// file, valid for the URL's host name (or IP address).
core::Result<SSL*> startTls(const dynlib::LibSsl& tls, int fd, const RedisAddress& a) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(tls.SSL_CTX_new(tls.TLS_client_method()),
                                                        tls.SSL_CTX_free);
  if (!ctx) return makeError(Errc::Internal, "Redis TLS: " + tlsError());
  // SSL_CTX_set_min_proto_version, a macro over SSL_CTX_ctrl. Neither it nor the system's roots
  // may fail silently: the link would then accept older TLS, or refuse every certificate with a
  // message that blames the certificate.
  if (tls.SSL_CTX_ctrl(ctx.get(), SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, nullptr) != 1)
    return makeError(Errc::Internal, "Redis TLS: cannot require TLS 1.2: " + tlsError());
  tls.SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (tls.SSL_CTX_set_default_verify_paths(ctx.get()) != 1)
    return makeError(Errc::Internal, "Redis TLS: cannot load the system's CA roots: " + tlsError());
  if (!a.ca_file.empty() &&
      tls.SSL_CTX_load_verify_locations(ctx.get(), a.ca_file.c_str(), nullptr) != 1)
    return makeError(Errc::Unavailable,
                     "REDIS_CA_FILE: cannot load " + a.ca_file + ": " + tlsError());
  SSL* ssl = tls.SSL_new(ctx.get());
  if (ssl == nullptr) return makeError(Errc::Internal, "Redis TLS: " + tlsError());
  std::string host = a.host;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  in6_addr probe{};
  const bool is_ip = ::inet_pton(AF_INET, host.c_str(), &probe) == 1 ||
                     ::inet_pton(AF_INET6, host.c_str(), &probe) == 1;
  X509_VERIFY_PARAM* param = tls.SSL_get0_param(ssl);
  const bool named =
      is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1
            : tls.SSL_set1_host(ssl, host.c_str()) == 1 && setServerName(tls, ssl, host.c_str());
  if (!named || tls.SSL_set_fd(ssl, fd) != 1) {
    tls.SSL_free(ssl);
    return makeError(Errc::Internal, "Redis TLS: " + tlsError());
  }
  if (tls.SSL_connect(ssl) != 1) {
    const long verify = tls.SSL_get_verify_result(ssl);  // NOLINT(google-runtime-int)
    std::string why = verify != X509_V_OK ? std::string("certificate not trusted: ") +
                                                X509_verify_cert_error_string(verify)
                                          : tlsError();
    tls.SSL_free(ssl);
    return makeError(Errc::Unavailable, "Redis TLS handshake with " + where(a) + " failed: " + why);
  }
  return ssl;
}

}  // namespace

core::Result<const dynlib::LibHiredis*> RedisConnection::libraries(const RedisAddress& address) {
  auto redis = dynlib::libhiredis();
  if (!redis)
    return makeError(Errc::Unavailable, "Redis needs libhiredis0.14: " + redis.error().message);
  if (!address.tls) return redis;
  if (auto tls = dynlib::libssl(); !tls)
    return makeError(Errc::Unavailable, "rediss:// needs libssl3: " + tls.error().message);
  return redis;
}

core::Result<std::unique_ptr<RedisConnection>> RedisConnection::open(
    const RedisAddress& address, std::chrono::milliseconds timeout) {
  auto redis = libraries(address);
  if (!redis) return tl::unexpected(redis.error());
  auto fd = connectTcp(address, timeout);
  if (!fd) return tl::unexpected(fd.error());
  std::unique_ptr<RedisConnection> c(new RedisConnection(**redis));
  c->fd_ = *fd;
  if (address.tls) {
    c->tls_ = *dynlib::libssl();  // loaded by libraries()
    auto ssl = startTls(*c->tls_, c->fd_, address);
    if (!ssl) return tl::unexpected(ssl.error());
    c->ssl_ = *ssl;
  }
  c->reader_ = c->redis_.redisReaderCreate();
  if (c->reader_ == nullptr) return makeError(Errc::Internal, "Redis: out of memory");
  if (!address.password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!address.user.empty()) auth.emplace_back(address.user);
    auth.emplace_back(address.password);
    if (auto ok = c->command(auth); !ok) {
      // Only Redis's own error reply is a refusal; a closed or silent link is something else
      // (a plain redis:// URL against a TLS port, say).
      if (ok.error().code == Errc::Internal)
        return makeError(Errc::Unavailable,
                         "Redis at " + where(address) + " refused the credentials in REDIS_URL");
      return makeError(Errc::Unavailable,
                       "Redis at " + where(address) +
                           " closed the connection or did not answer (a TLS port needs rediss://)");
    }
  }
  if (address.db != 0) {
    const std::string db = std::to_string(address.db);
    if (auto ok = c->command({"SELECT", db}); !ok) return tl::unexpected(ok.error());
  }
  return c;
}

RedisConnection::~RedisConnection() {
  if (ssl_ != nullptr) {
    if (!broken_) tls_->SSL_shutdown(ssl_);
    tls_->SSL_free(ssl_);
  }
  if (fd_ >= 0) ::close(fd_);
  if (reader_ != nullptr) redis_.redisReaderFree(reader_);
}

bool RedisConnection::writeAll(std::string_view bytes) {
  while (!bytes.empty() && !broken_) {
    const long n = ssl_ != nullptr  // NOLINT(google-runtime-int)
                       ? tls_->SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()))
                       : ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      if (ssl_ == nullptr && n < 0 && errno == EINTR) continue;
      ERR_clear_error();  // this connection's failure must not be reported by the next caller
      broken_ = true;
      break;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return !broken_;
}

bool RedisConnection::readSome() {
  std::array<char, 16384> buf{};
  const long n = ssl_ != nullptr  // NOLINT(google-runtime-int)
                     ? tls_->SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()))
                     : ::recv(fd_, buf.data(), buf.size(), 0);
  if (n <= 0) {
    if (ssl_ == nullptr && n < 0 && errno == EINTR) return true;
    ERR_clear_error();
    broken_ = true;
    return false;
  }
  if (redis_.redisReaderFeed(reader_, buf.data(), static_cast<std::size_t>(n)) != REDIS_OK) {
    broken_ = true;
    return false;
  }
  return true;
}

core::Status RedisConnection::send(const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* formatted = nullptr;
  const long long len =  // NOLINT(google-runtime-int): hiredis's type
      redis_.redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(),
                                    lens.data());
  if (len < 0) return makeError(Errc::Internal, "Redis: out of memory");
  const bool ok = writeAll(std::string_view(formatted, static_cast<std::size_t>(len)));
  redis_.redisFreeCommand(formatted);
  if (!ok) return makeError(Errc::Unavailable, "Redis: connection lost");
  return {};
}

core::Result<std::optional<RedisReply>> RedisConnection::buffered() {
  void* raw = nullptr;
  if (redis_.redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    broken_ = true;
    return makeError(Errc::Unavailable, "Redis: protocol error");
  }
  if (raw == nullptr) return std::optional<RedisReply>{};
  auto* reply = static_cast<redisReply*>(raw);
  RedisReply out = convert(reply);
  redis_.freeReplyObject(reply);
  return std::optional<RedisReply>(std::move(out));
}

bool RedisConnection::stillOpen() {
  if (broken_) return false;
  // Redis sends nothing unasked on a command connection: anything to read (its close, a reset,
  // bytes TLS holds) means it is no longer one to send a command on.
  pollfd pfd{fd_, POLLIN | POLLRDHUP, 0};
  const bool quiet = (ssl_ == nullptr || tls_->SSL_pending(ssl_) == 0) && ::poll(&pfd, 1, 0) == 0;
  if (!quiet) broken_ = true;
  return quiet;
}

bool RedisConnection::receive(std::chrono::milliseconds wait) {
  if (broken_) return false;
  // TLS may hold decrypted bytes the socket no longer shows.
  if (ssl_ == nullptr || tls_->SSL_pending(ssl_) == 0) {
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(wait.count()));
    if (ready < 0) return errno == EINTR;
    if (ready == 0) return true;
    if ((pfd.revents & (POLLERR | POLLNVAL)) != 0) {
      broken_ = true;
      return false;
    }
  }
  return readSome();
}

core::Result<RedisReply> RedisConnection::command(const std::vector<std::string_view>& args) {
  if (auto ok = send(args); !ok) return tl::unexpected(ok.error());
  for (;;) {
    auto reply = buffered();
    if (!reply) return tl::unexpected(reply.error());
    if (*reply) {
      if ((*reply)->type == RedisReply::Type::Error)
        return makeError(Errc::Internal, "Redis: " + (*reply)->text);
      return std::move(**reply);
    }
    if (!readSome()) return makeError(Errc::Unavailable, "Redis: connection lost or timed out");
  }
}

}  // namespace gatehouse::state
