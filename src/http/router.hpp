#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "http/message.hpp"

namespace gatehouse::http {

using Handler = std::function<Response(Request&)>;

// Where a request runs: on its I/O thread when memory suffices (token checks), on a storage
// worker, on the hashing workers (requests that wait on the password-hashing pool, kept apart
// so a login flood never delays the rest), or on the outbound workers (requests that wait on
// another server, an identity provider: kept apart so a slow one never holds the storage
// workers).
enum class Lane { Inline, Storage, Hashing, Outbound };

// Maps method + path pattern ("/api/v1/users/{id}") to handlers. An unknown path answers 404
// {"detail": "Not Found"}; a known path with another method 405 {"detail": "Method Not Allowed"}
// with Allow. Routes are added at startup; dispatch() is then thread-safe.
class Router {
 public:
  // Returns the route's index (Request::route).
  std::size_t add(std::string method, const std::string& pattern, Handler handler);
  // Runs the route find() matched on this request if it did (Request::route), else matches.
  Response dispatch(Request& request) const;
  // The index of the route `request` matches (HEAD as GET), with Request::route and path_params
  // filled; nullopt when none does (dispatch answers 404 or 405).
  std::optional<std::size_t> find(Request& request) const;
  // The pattern `request` matches ("/api/v1/users/{id}"), for metrics labels; "unmatched" if none.
  std::string routeOf(const Request& request) const;
  // (method, pattern) of every route, in index order (Request::route).
  std::vector<std::pair<std::string, std::string>> routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" segments capture
    Handler handler;
  };
  static bool match(const Route& route, std::span<const std::string_view> parts,
                    std::map<std::string, std::string>* params);
  std::vector<Route> routes_;
};

}  // namespace gatehouse::http
