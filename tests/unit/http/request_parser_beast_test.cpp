// Boost.Beast's parser, which the server used before it had its own, as an independent check:
// whatever ours accepts, Beast must accept too, and frame the same way (same method, target,
// fields, body and length). Ours may refuse more; it must never accept what Beast refuses, or
// read a request's end differently (where request smuggling lives).
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "http/request_parser.hpp"
#include "support/http_wire.hpp"

namespace gatehouse::http {
namespace {

namespace bhttp = boost::beast::http;

constexpr ParserLimits kLimits{.max_header_bytes = 1024, .max_body_bytes = 4096};

struct Parsed {
  bool done = false;
  std::size_t consumed = 0;
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  bool keep_alive = false;
};

Parsed ours(std::string_view wire) {
  RequestParser parser(kLimits);
  Parsed out;
  out.done = parser.parse(wire, out.consumed) == RequestParser::Result::Done;
  if (!out.done) return out;
  out.method = parser.request().method;
  out.target = parser.request().target;
  out.fields = parser.request().headers;
  out.body = parser.request().body;
  out.keep_alive = parser.keepAlive();
  return out;
}

Parsed beast(std::string_view wire) {
  // RFC 9112 §2.2: a server SHOULD ignore empty lines before the request line; ours does, and
  // Beast does not, so they are skipped for it.
  std::size_t skipped = 0;
  while (wire.substr(skipped, 2) == "\r\n") skipped += 2;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.header_limit(static_cast<std::uint32_t>(kLimits.max_header_bytes));
  parser.body_limit(kLimits.max_body_bytes);
  Parsed out;
  out.consumed = skipped;
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
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.fields.emplace_back(std::move(name), std::string(f.value()));
  }
  out.body = msg.body();
  out.keep_alive = msg.keep_alive();
  return out;
}

void expectBeastAgrees(const std::string& wire) {
  const Parsed a = ours(wire);
  if (!a.done) return;
  const Parsed b = beast(wire);
  ASSERT_TRUE(b.done) << "accepted here, refused by Beast: " << ::testing::PrintToString(wire);
  EXPECT_EQ(a.consumed, b.consumed) << ::testing::PrintToString(wire);
  EXPECT_EQ(a.method, b.method) << ::testing::PrintToString(wire);
  EXPECT_EQ(a.target, b.target) << ::testing::PrintToString(wire);
  // Beast keeps the fields of one name together (a later one moves up to the first) and adds a
  // chunked body's trailers to them; here they are dropped. Compared as sorted lists.
  auto mine = a.fields;
  auto theirs = b.fields;
  std::sort(mine.begin(), mine.end());
  std::sort(theirs.begin(), theirs.end());
  const bool chunked = std::any_of(a.fields.begin(), a.fields.end(),
                                   [](const auto& f) { return f.first == "transfer-encoding"; });
  if (chunked) {
    EXPECT_TRUE(std::includes(theirs.begin(), theirs.end(), mine.begin(), mine.end()))
        << ::testing::PrintToString(wire);
  } else {
    EXPECT_EQ(mine, theirs) << ::testing::PrintToString(wire);
  }
  EXPECT_EQ(a.body, b.body) << ::testing::PrintToString(wire);
  // Beast's keep_alive() reads only the first Connection field; ours reads them all.
  if (std::count_if(a.fields.begin(), a.fields.end(),
                    [](const auto& f) { return f.first == "connection"; }) <= 1) {
    EXPECT_EQ(a.keep_alive, b.keep_alive) << ::testing::PrintToString(wire);
  }
}

TEST(RequestParserAgainstBeast, WellFormedRequestsParseTheSame) {
  for (const std::string wire : {
           "GET /a?b=c HTTP/1.1\r\nHost: x\r\nCookie: s=1; t=2\r\n\r\n",
           "POST /l HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
           "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;e=1\r\nab\r\n"
           "10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n",
           "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
           "DELETE /x HTTP/1.1\r\nHost: [::1]:80\r\nX-A: \t\r\n\r\nGET / HTTP/1.1\r\n",
       }) {
    ASSERT_TRUE(ours(wire).done) << wire;
    expectBeastAgrees(wire);
  }
}

TEST(RequestParserAgainstBeast, DamagedRequestsAreNeverAcceptedOrFramedDifferently) {
  const std::vector<std::string> seeds = {
      "GET /a?b=c HTTP/1.1\r\nHost: x\r\nCookie: s=1\r\n\r\n",
      "POST /l HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello!",
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;e=1\r\nab\r\n0\r\nT: "
      "1\r\n\r\nGET",
      "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n"
      "0\r\n\r\n",
  };
  std::mt19937 rng(3122026);
  int accepted = 0;
  for (int i = 0; i < 30000; ++i) {
    const std::string wire = testing::damaged(seeds[rng() % seeds.size()], rng);
    accepted += ours(wire).done ? 1 : 0;
    expectBeastAgrees(wire);
    if (HasFailure()) return;
  }
  EXPECT_GT(accepted, 1000);  // the damage leaves enough accepted requests to compare
}

}  // namespace
}  // namespace gatehouse::http
