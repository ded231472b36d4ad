#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "api/route.hpp"
#include "core/ip_address.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "metrics/metrics.hpp"

namespace gatehouse::api {

// The request pipeline around the router: request id, client address, security headers, access
// log and the last-resort 500. Thread-safe after construction.
class Pipeline {
 public:
  // Registers the router's routes with `metrics` (when given): construct after the route table
  // is installed in `router`.
  Pipeline(const http::Router& router, const RouteTable& table, Services& services,
           core::AddressSet trusted_proxies, metrics::Registry* metrics = nullptr);

  // On a worker: the route's middleware and handler, or the router's 404/405.
  http::Response operator()(http::Request& request) const;

  // The hot path, tried on the I/O thread for every request: routes of the Inline lane (token
  // checks) answered from memory; otherwise the lane whose workers run operator().
  [[nodiscard]] Attempt tryInline(http::Request& request) const;

  // On the I/O thread, for a request its lane has no room for (the hashing queue is full): the
  // contract's 503 "Server busy" with Retry-After, at once.
  http::Response busy(http::Request& request) const;

  // Headers every response carries (API.md, General), plus X-Request-Id when known.
  static void decorate(const http::Request* request, http::Response& response);

  // The client address: the peer, or, when the peer is a trusted proxy, the right-most
  // X-Forwarded-For hop (over every line of it) that is not one, in its canonical spelling
  // (core::canonicalAddress); the nearest trusted hop when a hop is no address.
  std::string clientIp(const http::Request& request) const;

 private:
  // Request id and client address, once per request (the worker keeps the I/O thread's).
  void identify(http::Request& request) const;
  // A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) answered here;
  // nullopt for any other request.
  std::optional<http::Response> preflight(const http::Request& request) const;
  // CORS headers for a listed Origin (Fetch standard §3.2); Vary: Origin whenever CORS is on.
  void cors(const http::Request& request, http::Response& response) const;
  bool allowedOrigin(std::string_view origin) const;
  // Headers, metrics and the access log line of a finished request.
  http::Response finish(const http::Request& request, http::Response response,
                        std::chrono::steady_clock::time_point started) const;

  const http::Router& router_;
  const RouteTable& table_;
  Services& services_;
  core::AddressSet trusted_proxies_;
  metrics::Registry* metrics_;
};

}  // namespace gatehouse::api
