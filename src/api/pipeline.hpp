#pragma once

#include <string>
#include <vector>

#include "http/message.hpp"
#include "http/router.hpp"
#include "metrics/metrics.hpp"

namespace gatehouse::api {

// The request pipeline around the router: request id, client address, security headers, access
// log and the last-resort 500. Thread-safe after construction.
class Pipeline {
 public:
  // Registers the router's routes with `metrics` (when given): construct after every route is
  // added.
  Pipeline(const http::Router& router, std::vector<std::string> trusted_proxies,
           metrics::Registry* metrics = nullptr);

  http::Response operator()(http::Request& request) const;

  // The hot path, tried on the I/O thread: token checks (/verify, /me, /healthz) answered from
  // memory. nullopt when the route is not one of those or the answer needs storage; then the
  // request goes to a worker and operator() runs.
  std::optional<http::Response> tryInline(http::Request& request) const;

  // Headers every response carries (API.md, General), plus X-Request-Id when known.
  static void decorate(const http::Request* request, http::Response& response);

  // The client address: the peer, or the right-most X-Forwarded-For hop that is not a trusted
  // proxy when the peer is one.
  std::string clientIp(const http::Request& request) const;

 private:
  bool trusted(std::string_view ip) const;
  std::optional<http::Response> handle(http::Request& request, bool inline_attempt) const;

  const http::Router& router_;
  std::vector<std::string> trusted_proxies_;
  metrics::Registry* metrics_;
};

}  // namespace gatehouse::api
