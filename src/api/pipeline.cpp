#include "api/pipeline.hpp"

#include <algorithm>
#include <array>
#include <chrono>

#include "api/services.hpp"
#include "core/ascii.hpp"
#include "core/ip_address.hpp"
#include "core/log.hpp"
#include "crypto/random.hpp"

namespace gatehouse::api {
namespace {

bool acceptableRequestId(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}

// Request ids need to be unique, not secret: a per-thread random prefix and a counter, so the hot
// path does not draw from the CSPRNG on every request.
std::string newRequestId() {
  thread_local const std::string prefix = crypto::randomToken(6).value_or("thread");
  thread_local std::uint64_t counter = 0;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = prefix;
  id.push_back('-');
  std::uint64_t n = ++counter;
  std::array<char, 16> digits{};
  std::size_t len = 0;
  do {
    digits[len++] = kHex[n & 15U];
    n >>= 4U;
  } while (n != 0);
  while (len > 0) id.push_back(digits[--len]);
  return id;
}

// The pages, forward-auth and the provider's browser endpoints (authorize, logout) take the
// sign-in cookie: no other origin's script may read them,
// whatever CORS_ALLOW_ORIGINS lists (a listed sibling origin is same-site, so the browser would
// send the cookie along).
bool cookieRoute(std::string_view path) {
  return path == "/ui" || path.starts_with("/ui/") || path == "/api/v1/auth/verify" ||
         path == "/oauth2/authorize" || path == "/oauth2/logout";
}

}  // namespace

Pipeline::Pipeline(const http::Router& router, const RouteTable& table, Services& services,
                   core::AddressSet trusted_proxies, metrics::Registry* metrics)
    : router_(router),
      table_(table),
      services_(services),
      trusted_proxies_(std::move(trusted_proxies)),
      metrics_(metrics) {
  if (metrics_ != nullptr) {
    for (const auto& [method, pattern] : router_.routes()) metrics_->registerRoute(method, pattern);
  }
}

void Pipeline::decorate(const http::Request* request, http::Response& r) {
  r.security_headers = true;  // http::securityHeaders(), added when written
  if (!r.has("Cache-Control")) r.set("Cache-Control", "no-store");
  // RFC 9110 §15.5.2: every 401 names a scheme, whichever handler made it.
  if (r.status == 401 && !r.has("WWW-Authenticate")) r.set("WWW-Authenticate", "Bearer");
  if (request != nullptr && !request->request_id.empty())
    r.set("X-Request-Id", request->request_id);
}

std::string Pipeline::clientIp(const http::Request& request) const {
  // The server made the peer canonical. Every X-Forwarded-For line is read: a proxy that adds a
  // line of its own after the client's (HAProxy's `option forwardfor`) is believed, not the
  // client's first line (an outside attack: a rotating forged line dodged every per-address
  // limit); a hop that is no address stops the walk (any text there went to the logs).
  if (trusted_proxies_.empty()) return request.peer_ip;
  return core::forwardedClient(request.peer_ip, request.headers, trusted_proxies_);
}

void Pipeline::identify(http::Request& request) const {
  if (!request.request_id.empty()) return;  // already done on the I/O thread
  if (auto id = request.header("x-request-id"); id && acceptableRequestId(*id)) {
    request.request_id = std::string(*id);
  } else {
    request.request_id = newRequestId();
  }
  request.client_ip = clientIp(request);
}

bool Pipeline::allowedOrigin(std::string_view origin) const {
  const auto& list = services_.cors_origins;
  return std::find(list.begin(), list.end(), origin) != list.end();
}

std::optional<http::Response> Pipeline::preflight(const http::Request& request) const {
  if (services_.cors_origins.empty() || request.method != "OPTIONS" || cookieRoute(request.path))
    return std::nullopt;
  const auto origin = request.header("origin");
  if (!origin || !request.header("access-control-request-method")) return std::nullopt;
  http::Response r = http::Response::empty(204);
  r.set("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  // An unlisted origin gets no CORS headers at all: the browser then refuses the request.
  if (!allowedOrigin(*origin)) return r;
  r.set("Access-Control-Allow-Origin", std::string(*origin));
  r.set("Access-Control-Allow-Credentials", "true");
  r.set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
  r.set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, X-Request-Id");
  r.set("Access-Control-Max-Age", "600");
  return r;
}

void Pipeline::cors(const http::Request& request, http::Response& response) const {
  if (services_.cors_origins.empty() || request.method == "OPTIONS" || cookieRoute(request.path))
    return;
  response.set("Vary", "Origin");
  const auto origin = request.header("origin");
  if (!origin || !allowedOrigin(*origin)) return;
  // The exact origin, never "*": credentials (Authorization, cookies) are allowed for it.
  response.set("Access-Control-Allow-Origin", std::string(*origin));
  response.set("Access-Control-Allow-Credentials", "true");
  response.set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id, WWW-Authenticate");
}

http::Response Pipeline::operator()(http::Request& request) const {
  const auto started = std::chrono::steady_clock::now();
  identify(request);
  if (auto answer = preflight(request)) return finish(request, std::move(*answer), started);
  http::Response response;
  try {
    response = router_.dispatch(request);
  } catch (const std::exception& e) {
    spdlog::error("request_id={} unhandled exception: {}", request.request_id, e.what());
    response = http::Response::detail(500, "Internal Server Error");
  }
  return finish(request, std::move(response), started);
}

Attempt Pipeline::tryInline(http::Request& request) const {
  const auto started = std::chrono::steady_clock::now();
  identify(request);
  if (auto answer = preflight(request)) return finish(request, std::move(*answer), started);
  Attempt attempt = http::Lane::Storage;
  try {
    attempt = table_.tryInline(request, services_);
  } catch (const std::exception& e) {
    spdlog::error("request_id={} unhandled exception: {}", request.request_id, e.what());
    attempt = http::Response::detail(500, "Internal Server Error");
  }
  if (auto* response = std::get_if<http::Response>(&attempt))
    return finish(request, std::move(*response), started);
  return attempt;
}

http::Response Pipeline::busy(http::Request& request) const {
  const auto started = std::chrono::steady_clock::now();
  identify(request);
  return finish(request, table_.busy(request, services_), started);
}

http::Response Pipeline::finish(const http::Request& request, http::Response response,
                                std::chrono::steady_clock::time_point started) const {
  decorate(&request, response);
  cors(request, response);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  if (metrics_ != nullptr) {
    metrics_->observeRequest(request.route, response.status, static_cast<double>(micros) / 1e6);
  }
  // The path only: query strings may carry credentials (api_key) and are never logged.
  const auto& table = table_.routes();
  const std::string_view route =
      request.route < table.size() ? std::string_view(table[request.route].path) : "-";
  spdlog::info(
      "request_id={} client={} method={} path={} route={} user_id={} status={} "
      "duration_us={}",
      request.request_id, request.client_ip, request.method, request.path, route, request.user_id,
      response.status, micros);
  return response;
}

}  // namespace gatehouse::api
