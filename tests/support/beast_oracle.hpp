#pragma once
// Boost.Beast's request parser, which the server used before it had its own, as an independent
// check of ours: whatever ours accepts, Beast must accept too and frame the same way (the same
// length, method, target, fields, body and keep-alive). Two parsers on one path that disagree
// about where a request ends is request smuggling. Shared by the parser's unit test and its fuzz
// target.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>

#include "http/request_parser.hpp"

namespace gatehouse::testing {

// What a parser made of the start of a connection's bytes; field names in lower case.
struct Parsed {
  bool done = false;
  std::size_t consumed = 0;
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  bool keep_alive = false;
};

// Ours, after `parser` has parsed the bytes (`consumed` of them).
inline Parsed parsedBy(http::RequestParser& parser, bool done, std::size_t consumed) {
  Parsed out;
  out.done = done;
  out.consumed = consumed;
  if (!done) return out;
  out.method = parser.request().method;
  out.target = parser.request().target;
  out.fields = parser.request().headers;
  out.body = parser.request().body;
  out.keep_alive = parser.keepAlive();
  return out;
}

inline Parsed parsedByBeast(std::string_view wire, const http::ParserLimits& limits) {
  namespace bhttp = boost::beast::http;
  // RFC 9112 §2.2: a server SHOULD ignore empty lines before the request line; ours does, and
  // Beast does not, so they are skipped for it.
  Parsed out;
  while (wire.substr(out.consumed, 2) == "\r\n") out.consumed += 2;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  boost::system::error_code ec;
  while (!parser.is_done()) {
    const auto n =
        parser.put(boost::asio::buffer(wire.data() + out.consumed, wire.size() - out.consumed), ec);
    out.consumed += n;
    if (ec || n == 0) return out;
  }
  out.done = true;
  const auto& msg = parser.get();
  out.method = std::string(msg.method_string());
  out.target = std::string(msg.target());
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (char& c : name) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    out.fields.emplace_back(std::move(name), std::string(f.value()));
  }
  out.body = msg.body();
  out.keep_alive = msg.keep_alive();
  return out;
}

// Empty when Beast agrees with what ours accepted (or ours refused); else what differs.
inline std::string disagreement(const Parsed& ours, const Parsed& beast) {
  if (!ours.done) return {};
  if (!beast.done) return "accepted here, refused by Beast";
  if (ours.consumed != beast.consumed)
    return "length " + std::to_string(ours.consumed) + " against " + std::to_string(beast.consumed);
  if (ours.method != beast.method) return "method";
  if (ours.target != beast.target) return "target";
  if (ours.body != beast.body) return "body";
  // Beast keeps the fields of one name together (a later one moves up to the first) and adds a
  // chunked body's trailers to them, which ours drops: compared as sorted lists.
  auto mine = ours.fields;
  auto theirs = beast.fields;
  std::sort(mine.begin(), mine.end());
  std::sort(theirs.begin(), theirs.end());
  const bool chunked = std::any_of(ours.fields.begin(), ours.fields.end(),
                                   [](const auto& f) { return f.first == "transfer-encoding"; });
  if (chunked ? !std::includes(theirs.begin(), theirs.end(), mine.begin(), mine.end())
              : mine != theirs)
    return "fields";
  // Beast's keep_alive() reads only the first Connection field; ours reads them all (RFC 9110
  // §5.3): compared only where there is at most one.
  const auto connections = std::count_if(ours.fields.begin(), ours.fields.end(),
                                         [](const auto& f) { return f.first == "connection"; });
  if (connections <= 1 && ours.keep_alive != beast.keep_alive) return "keep-alive";
  return {};
}

}  // namespace gatehouse::testing
