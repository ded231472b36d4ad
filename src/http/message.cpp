#include "http/message.hpp"

#include <algorithm>
#include <charconv>

#include <boost/json/serialize.hpp>

#include "core/ascii.hpp"

namespace gatehouse::http {

std::optional<std::string_view> Request::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return std::string_view(value);
  }
  return std::nullopt;
}

std::size_t Request::headerCount(std::string_view lower_name) const {
  return static_cast<std::size_t>(
      std::count_if(headers.begin(), headers.end(),
                    [&](const auto& field) { return field.first == lower_name; }));
}

std::vector<std::string> Request::queryAll(std::string_view name) const {
  std::vector<std::string> out;
  if (auto pairs = parseForm(query)) {
    for (auto& [k, v] : *pairs) {
      if (k == name) out.push_back(std::move(v));
    }
  }
  return out;
}

std::optional<std::string> Request::queryParam(std::string_view name) const {
  auto all = queryAll(name);
  if (all.empty()) return std::nullopt;
  return std::move(all.front());
}

void Response::set(std::string name, std::string value) {
  for (auto& [n, v] : headers) {
    if (n == name) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

bool Response::has(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return h.first == name; });
}

Response Response::json(int status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  r.set("Content-Type", "application/json");
  return r;
}

Response Response::detail(int status, std::string_view message) {
  boost::json::object o;
  o["detail"] = message;
  return json(status, o);
}

Response Response::empty(int status) {
  Response r;
  r.status = status;
  return r;
}

const std::vector<std::pair<std::string_view, std::string_view>>& securityHeaders() {
  static const std::vector<std::pair<std::string_view, std::string_view>> kHeaders = {
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Strict-Transport-Security", "max-age=31536000; includeSubDomains"},
      {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
      // OWASP: the XSS auditor is gone from browsers and could be abused; "0" disables it.
      {"X-XSS-Protection", "0"},
      {"Referrer-Policy", "no-referrer"},
  };
  return kHeaders;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parseForm(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('&', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = text.substr(start, end - start);
    if (!part.empty()) {
      const auto eq = part.find('=');
      auto key = percentDecode(part.substr(0, eq), true);
      auto value = percentDecode(
          eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true);
      if (!key || !value) return std::nullopt;
      out.emplace_back(std::move(*key), std::move(*value));
    }
    start = end + 1;
  }
  return out;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Request Entity Too Large";
    case 501:
      return "Not Implemented";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

namespace {

std::string_view statusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    default:
      return status >= 400 ? reasonPhrase(status) : std::string_view("Unknown");
  }
}

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  // Whole runs between CR/LF (almost always the whole value), never the CR/LF themselves.
  for (;;) {
    const auto cut =
        std::find_if(value.begin(), value.end(), [](char c) { return c == '\r' || c == '\n'; });
    out.append(value.begin(), cut);
    if (cut == value.end()) break;
    value.remove_prefix(static_cast<std::size_t>(cut - value.begin()) + 1);
  }
  out += "\r\n";
}

// The security headers as written when the response sets none of them itself (nearly always).
const std::string& securityHeaderBlock() {
  static const std::string kBlock = [] {
    std::string block;
    for (const auto& [name, value] : securityHeaders()) appendHeader(block, name, value);
    return block;
  }();
  return kBlock;
}

bool setsASecurityHeader(const Response& response) {
  return std::any_of(response.headers.begin(), response.headers.end(), [](const auto& h) {
    const auto& all = securityHeaders();
    return std::any_of(all.begin(), all.end(), [&](const auto& d) { return d.first == h.first; });
  });
}

}  // namespace

void serializeResponse(const Response& response, unsigned version, bool keep_alive,
                       std::string& out, bool head_request) {
  out.clear();
  out.reserve(512 + response.body.size());
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  char digits[8];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, response.status);
  out.append(digits, ec == std::errc() ? end : digits);
  out += ' ';
  out += statusText(response.status);
  out += "\r\n";
  if (response.security_headers) {
    // A response may set its own value of one of them (the docs page's wider CSP): then that one
    // is written instead of the default.
    if (!setsASecurityHeader(response)) {
      out += securityHeaderBlock();
    } else {
      for (const auto& [name, value] : securityHeaders()) {
        if (!response.has(name)) appendHeader(out, name, value);
      }
    }
  }
  for (const auto& [name, value] : response.headers) appendHeader(out, name, value);
  if (version == 10 && keep_alive) appendHeader(out, "Connection", "keep-alive");
  if (version != 10 && !keep_alive) appendHeader(out, "Connection", "close");
  const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  if (!bodiless) {
    char length[24];
    const auto [lend, lec] = std::to_chars(length, length + sizeof length, response.body.size());
    appendHeader(out, "Content-Length", std::string_view(length, lend - length));
    out += "\r\n";
    if (!head_request) out += response.body;
  } else {
    out += "\r\n";
  }
}

}  // namespace gatehouse::http
