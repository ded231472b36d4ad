#include "http/message.hpp"

#include <gtest/gtest.h>

namespace gatehouse::http {
namespace {

TEST(Request, HeaderGivesTheFirstValueAndHeaderCountEveryOne) {
  Request r;
  r.headers = {{"x-original-uri", "/public"}, {"host", "x"}, {"x-original-uri", "/admin/panel"}};
  EXPECT_EQ(r.header("x-original-uri"), "/public");
  EXPECT_EQ(r.headerCount("x-original-uri"), 2U);
  EXPECT_EQ(r.headerCount("host"), 1U);
  EXPECT_EQ(r.headerCount("x-original-method"), 0U);
  EXPECT_FALSE(r.header("x-original-method"));
}

TEST(SerializeResponse, WritesStatusHeadersLengthAndBody) {
  Response r = Response::detail(401, "Could not validate credentials");
  r.set("WWW-Authenticate", "Bearer");
  r.security_headers = true;  // as the pipeline's decorator sets it
  std::string out = "stale bytes from the previous response";
  serializeResponse(r, 11, true, out);
  ASSERT_TRUE(out.starts_with("HTTP/1.1 401 Unauthorized\r\n")) << out;
  EXPECT_NE(out.find("\r\nWWW-Authenticate: Bearer\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nX-Content-Type-Options: nosniff\r\n"), std::string::npos);  // security
  EXPECT_EQ(out.find("Connection:"), std::string::npos);  // 1.1 keep-alive is the default
  const std::string body = R"({"detail":"Could not validate credentials"})";
  EXPECT_NE(out.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body),
            std::string::npos);
  EXPECT_TRUE(out.ends_with(body));
}

TEST(SerializeResponse, HeadGetsTheLengthButNoBody) {
  Response r = Response::detail(200, "ok");
  std::string out;
  serializeResponse(r, 11, true, out, true);
  EXPECT_NE(out.find("Content-Length: 15\r\n"), std::string::npos) << out;
  EXPECT_TRUE(out.ends_with("\r\n\r\n")) << out;
  EXPECT_EQ(out.find("detail"), std::string::npos);
}

TEST(SerializeResponse, ConnectionHeaderFollowsVersionAndKeepAlive) {
  const Response ok = Response::empty(200);
  std::string out;
  serializeResponse(ok, 11, false, out);
  EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos);
  serializeResponse(ok, 10, true, out);
  EXPECT_TRUE(out.starts_with("HTTP/1.0 200 OK\r\n"));
  EXPECT_NE(out.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
  serializeResponse(ok, 10, false, out);
  EXPECT_EQ(out.find("Connection:"), std::string::npos);
  EXPECT_NE(out.find("\r\nContent-Length: 0\r\n\r\n"), std::string::npos);
}

TEST(SerializeResponse, NoContentHasNoLengthAndValuesCannotSplitTheHeader) {
  Response r = Response::empty(204);
  r.body = "ignored";
  r.set("X-Auth-User-Email", "a@example.com\r\nSet-Cookie: evil=1");
  std::string out;
  serializeResponse(r, 11, true, out);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 204 No Content\r\n"));
  EXPECT_EQ(out.find("Content-Length"), std::string::npos);
  EXPECT_EQ(out.find("\r\nSet-Cookie"), std::string::npos);
  EXPECT_NE(out.find("X-Auth-User-Email: a@example.comSet-Cookie: evil=1\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST(SerializeResponse, EverySecurityHeaderOnceAndAResponsesOwnValueWins) {
  Response plain = Response::empty(200);
  plain.security_headers = true;
  std::string out;
  serializeResponse(plain, 11, true, out);
  for (const auto& [name, value] : securityHeaders()) {
    const std::string line = "\r\n" + std::string(name) + ": " + std::string(value) + "\r\n";
    EXPECT_NE(out.find(line), std::string::npos) << name;
  }
  Response docs = Response::empty(200);
  docs.security_headers = true;
  docs.set("Content-Security-Policy", "default-src 'self'");
  serializeResponse(docs, 11, true, out);
  EXPECT_NE(out.find("\r\nContent-Security-Policy: default-src 'self'\r\n"), std::string::npos);
  EXPECT_EQ(out.find("default-src 'none'"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nX-Frame-Options: DENY\r\n"), std::string::npos);  // the others stay
}

}  // namespace
}  // namespace gatehouse::http
