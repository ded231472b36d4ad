#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "core/uri_path.hpp"

namespace gatehouse::http {

// An HTTP request as handlers see it: no Asio types. Header names are lower-case.
struct Request {
  std::string method;
  std::string target;  // as received, query included
  std::string path;    // target without the query
  std::string query;   // after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer_ip;
  std::string client_ip;  // peer, or the trusted X-Forwarded-For hop (set by middleware)
  std::string request_id;
  std::map<std::string, std::string> path_params;    // filled by the router
  std::size_t route = static_cast<std::size_t>(-1);  // index of the route that took it, if any
  std::int64_t user_id = 0;     // the authenticated caller, for the request log (0: none)
  std::int64_t api_key_id = 0;  // the API key the caller used, for audit records (0: none)
  std::string op_client_id;     // the OpenID client whose token the caller used, likewise

  // The first value of a header; nullopt when absent.
  std::optional<std::string_view> header(std::string_view lower_name) const;
  // How many times a header occurs.
  std::size_t headerCount(std::string_view lower_name) const;
  // Every value of a query parameter, decoded.
  std::vector<std::string> queryAll(std::string_view name) const;
  std::optional<std::string> queryParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Adds the fixed security headers (securityHeaders()) when written, without copying them into
  // `headers` on every request; one the response sets itself replaces the default.
  bool security_headers = false;

  void set(std::string name, std::string value);
  bool has(std::string_view name) const;

  static Response json(int status, const boost::json::value& body);
  // {"detail": message}: the contract's error shape.
  static Response detail(int status, std::string_view message);
  static Response empty(int status);
};

// The security headers every response carries (API.md, General).
const std::vector<std::pair<std::string_view, std::string_view>>& securityHeaders();

// application/x-www-form-urlencoded (and query strings): name → values, decoded. nullopt for
// malformed percent-encoding.
std::optional<std::vector<std::pair<std::string, std::string>>> parseForm(std::string_view text);
// core::percentDecode, where the requests are read.
using core::percentDecode;

// The standard reason phrase's JSON detail for a status (404 "Not Found", ...).
std::string_view reasonPhrase(int status);

// The HTTP/1.x wire form of `response` into `out` (cleared first, its capacity reused): status
// line, security headers when asked, the response's headers (CR and LF dropped from values, so
// nothing can split the header), Connection as `keep_alive` needs it for `version` (10 or 11),
// Content-Length (none for 1xx, 204 and 304), then the body — except in answer to HEAD, which
// gets the same Content-Length and no body (RFC 9110 §9.3.2), so the connection stays in step.
void serializeResponse(const Response& response, unsigned version, bool keep_alive,
                       std::string& out, bool head_request = false);

}  // namespace gatehouse::http
