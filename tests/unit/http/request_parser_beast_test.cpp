// Boost.Beast's parser as an independent check of ours (support/beast_oracle.hpp). Ours may
// refuse more; it must never accept what Beast refuses, or read a request's end differently.
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "http/request_parser.hpp"
#include "support/beast_oracle.hpp"
#include "support/http_wire.hpp"

namespace gatehouse::http {
namespace {

constexpr ParserLimits kLimits{.max_header_bytes = 1024, .max_body_bytes = 4096};

testing::Parsed ours(std::string_view wire) {
  RequestParser parser(kLimits);
  std::size_t consumed = 0;
  const bool done = parser.parse(wire, consumed) == RequestParser::Result::Done;
  return testing::parsedBy(parser, done, consumed);
}

void expectBeastAgrees(const std::string& wire) {
  EXPECT_EQ(testing::disagreement(ours(wire), testing::parsedByBeast(wire, kLimits)), "")
      << ::testing::PrintToString(wire);
}

// The oracle itself: a request Beast frames longer (a smuggled second request), or with other
// fields, is a disagreement; a request only ours refuses is not.
TEST(RequestParserAgainstBeast, TheOracleSeesEachDifference) {
  const std::string wire = "POST /l HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
  const testing::Parsed a = ours(wire);
  ASSERT_EQ(testing::disagreement(a, testing::parsedByBeast(wire, kLimits)), "");
  testing::Parsed b = a;
  b.consumed += 1;
  EXPECT_EQ(testing::disagreement(a, b), "length 50 against 51");  // the whole request: 50 bytes
  b = a;
  b.fields.emplace_back("transfer-encoding", "chunked");
  EXPECT_EQ(testing::disagreement(a, b), "fields");
  b = a;
  b.method = "GET";
  EXPECT_EQ(testing::disagreement(a, b), "method");
  b = a;
  b.target = "/l?x";
  EXPECT_EQ(testing::disagreement(a, b), "target");
  b = a;
  b.body = "h";
  EXPECT_EQ(testing::disagreement(a, b), "body");
  b = a;
  b.keep_alive = !a.keep_alive;
  EXPECT_EQ(testing::disagreement(a, b), "keep-alive");
  // With two Connection fields Beast reads only the first: keep-alive is not compared then.
  testing::Parsed two = a;
  two.fields.emplace_back("connection", "close");
  two.fields.emplace_back("connection", "keep-alive");
  testing::Parsed theirs = two;
  theirs.keep_alive = !two.keep_alive;
  EXPECT_EQ(testing::disagreement(two, theirs), "");
  // A chunked body's trailers are among Beast's fields only: a superset is agreement, a missing
  // field is not.
  testing::Parsed chunked = a;
  chunked.fields.emplace_back("transfer-encoding", "chunked");
  theirs = chunked;
  theirs.fields.emplace_back("x-trailer", "1");
  EXPECT_EQ(testing::disagreement(chunked, theirs), "");
  theirs = chunked;
  theirs.fields.pop_back();
  EXPECT_EQ(testing::disagreement(chunked, theirs), "fields");
  b = a;
  b.done = false;
  EXPECT_EQ(testing::disagreement(a, b), "accepted here, refused by Beast");
  EXPECT_EQ(testing::disagreement(testing::Parsed{}, b), "");
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
