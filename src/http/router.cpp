#include "http/router.hpp"

#include <set>
#include <stdexcept>
#include <string>

#include <boost/container/small_vector.hpp>

#include "core/utf8.hpp"

namespace gatehouse::http {
namespace {

// A path's segments after the leading '/' ("/a/{id}" is "a", "{id}"; "/" is one empty one), as
// views into `path`: no string copies, and no allocation for up to eight segments, on the
// request path.
using Parts = boost::container::small_vector<std::string_view, 8>;

Parts splitView(std::string_view path) {
  Parts parts;
  // No segments, so no route, for what does not start with '/' ("OPTIONS *"): its first
  // character is not a separator to skip.
  if (!path.starts_with('/')) return parts;
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    parts.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

// The same segments, owned: a route's pattern.
std::vector<std::string> split(std::string_view pattern) {
  const Parts parts = splitView(pattern);
  return {parts.begin(), parts.end()};
}

}  // namespace

std::size_t Router::add(std::string method, const std::string& pattern, Handler handler) {
  // A pattern without its '/' would have no segments and match every path without one.
  if (!pattern.starts_with('/')) throw std::logic_error("route pattern without '/': " + pattern);
  routes_.push_back(Route{std::move(method), pattern, split(pattern), std::move(handler)});
  return routes_.size() - 1;
}

std::optional<std::size_t> Router::find(Request& request) const {
  const auto parts = splitView(request.path);
  for (const auto& route : routes_) {
    // The method first: a string of a few letters, where most routes differ.
    if (route.method != request.method && !(request.method == "HEAD" && route.method == "GET"))
      continue;
    if (!match(route, parts, nullptr)) continue;
    request.path_params.clear();
    // A parameter that does not decode, or decodes to what no stored name or id can be, matches
    // nothing (PostgreSQL answered such a session id with an error, a 500; an outside attack).
    if (!match(route, parts, &request.path_params)) {
      request.path_params.clear();
      continue;
    }
    request.route = static_cast<std::size_t>(&route - routes_.data());
    return request.route;
  }
  return std::nullopt;
}

bool Router::match(const Route& route, std::span<const std::string_view> parts,
                   std::map<std::string, std::string>* params) {
  if (route.segments.size() != parts.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& seg = route.segments[i];
    if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
      if (parts[i].empty()) return false;
      if (params != nullptr) {
        auto decoded = percentDecode(parts[i], false);
        if (!decoded || !core::isStorableText(*decoded)) return false;
        (*params)[seg.substr(1, seg.size() - 2)] = *decoded;
      }
    } else if (seg != parts[i]) {
      return false;
    }
  }
  return true;
}

Response Router::dispatch(Request& request) const {
  // The I/O thread's attempt already matched it (route and path parameters): not again.
  if (request.route < routes_.size()) return routes_[request.route].handler(request);
  // RFC 9110 §9.3.2: HEAD is GET without the body (the writer drops it).
  if (auto index = find(request)) return routes_[*index].handler(request);
  const auto parts = splitView(request.path);
  std::set<std::string> allowed;
  std::map<std::string, std::string> params;  // a parameter that matches nothing: 404, not 405
  for (const auto& route : routes_) {
    if (!match(route, parts, &params)) continue;
    allowed.insert(route.method);
    if (route.method == "GET") allowed.insert("HEAD");
  }
  if (allowed.empty()) return Response::detail(404, "Not Found");
  Response r = Response::detail(405, "Method Not Allowed");
  std::string allow;
  for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  r.set("Allow", allow);
  return r;
}

std::vector<std::pair<std::string, std::string>> Router::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

std::string Router::routeOf(const Request& request) const {
  const auto parts = splitView(request.path);
  for (const auto& route : routes_) {
    if (match(route, parts, nullptr)) return route.pattern;
  }
  return "unmatched";
}

}  // namespace gatehouse::http
