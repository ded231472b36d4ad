#include "http/router.hpp"

#include <stdexcept>

#include <gtest/gtest.h>

namespace gatehouse::http {
namespace {

Request req(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(Router, DispatchesAndCapturesParameters) {
  Router router;
  router.add("GET", "/api/v1/users/{id}",
             [](Request& r) { return Response::detail(200, r.path_params.at("id")); });
  router.add("GET", "/api/v1/users", [](Request&) { return Response::detail(200, "list"); });
  auto r = req("GET", "/api/v1/users/42");
  EXPECT_EQ(router.dispatch(r).body, R"({"detail":"42"})");
  auto l = req("GET", "/api/v1/users");
  EXPECT_EQ(router.dispatch(l).body, R"({"detail":"list"})");
  auto enc = req("GET", "/api/v1/users/a%20b");
  EXPECT_EQ(router.dispatch(enc).body, R"({"detail":"a b"})");
  EXPECT_EQ(router.routeOf(r), "/api/v1/users/{id}");
}

TEST(Router, HeadIsAnsweredByTheGetRoute) {
  Router router;
  router.add("GET", "/healthz", [](Request&) { return Response::detail(200, "ok"); });
  router.add("POST", "/login", [](Request&) { return Response::empty(200); });
  auto head = req("HEAD", "/healthz");
  EXPECT_EQ(router.dispatch(head).status, 200);
  auto head_post = req("HEAD", "/login");
  EXPECT_EQ(router.dispatch(head_post).status, 405);
}

// The first route in declaration order whose method and path both match wins, whatever routes of
// other methods come before it; a path of more segments than any route has matches none.
TEST(Router, TheFirstRouteWithTheMethodAndPathWins) {
  Router router;
  router.add("POST", "/a/{id}", [](Request&) { return Response::detail(200, "post-param"); });
  router.add("GET", "/a/me", [](Request&) { return Response::detail(200, "get-me"); });
  router.add("GET", "/a/{id}", [](Request&) { return Response::detail(200, "get-param"); });
  router.add("POST", "/a/me", [](Request&) { return Response::detail(200, "post-me"); });
  auto get_me = req("GET", "/a/me");
  EXPECT_EQ(router.find(get_me), 1U);
  auto head_x = req("HEAD", "/a/x");
  EXPECT_EQ(router.find(head_x), 2U);
  EXPECT_EQ(head_x.path_params.at("id"), "x");
  auto post_me = req("POST", "/a/me");
  EXPECT_EQ(router.find(post_me), 0U);  // declared first
  EXPECT_EQ(post_me.path_params.at("id"), "me");
  std::string deep;
  for (int i = 0; i < 20; ++i) deep += "/a";
  auto long_path = req("GET", deep);
  EXPECT_FALSE(router.find(long_path));
  EXPECT_EQ(router.dispatch(long_path).status, 404);
}

TEST(Router, AnswersNotFoundAndMethodNotAllowed) {
  Router router;
  router.add("POST", "/login", [](Request&) { return Response::empty(200); });
  router.add("PUT", "/login", [](Request&) { return Response::empty(200); });
  auto missing = req("GET", "/nothing");
  const auto nf = router.dispatch(missing);
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.body, R"({"detail":"Not Found"})");
  auto wrong = req("GET", "/login");
  const auto na = router.dispatch(wrong);
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.body, R"({"detail":"Method Not Allowed"})");
  ASSERT_TRUE(na.has("Allow"));
  auto trailing = req("POST", "/login/");
  EXPECT_EQ(router.dispatch(trailing).status, 404);
  auto empty_param = req("GET", "/users/");
  EXPECT_EQ(router.dispatch(empty_param).status, 404);
  // A path's first character is its '/': "Xlogin" and "*login" were routed as /login (an
  // outside attack, past a proxy's rule on the path).
  for (const char* path : {"Xlogin", "*login", "login", "*", ""}) {
    auto odd = req("POST", path);
    EXPECT_EQ(router.dispatch(odd).status, 404) << path;
    EXPECT_EQ(router.routeOf(odd), "unmatched") << path;
  }
  EXPECT_THROW(router.add("GET", "login", [](Request&) { return Response::empty(200); }),
               std::logic_error);
}

TEST(Form, DecodesUrlEncodedBodies) {
  auto f = parseForm("username=a%40b.com&password=p%2Bq+r&empty=&flag");
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 4U);
  EXPECT_EQ((*f)[0], (std::pair<std::string, std::string>{"username", "a@b.com"}));
  EXPECT_EQ((*f)[1].second, "p+q r");
  EXPECT_EQ((*f)[2].second, "");
  EXPECT_EQ((*f)[3].first, "flag");
  EXPECT_FALSE(parseForm("a=%zz"));
  EXPECT_FALSE(parseForm("a=%4"));
}

TEST(Request, ReadsQueryParameters) {
  Request r;
  r.query = "permission=a%3Ab&permission=c:d&limit=5";
  EXPECT_EQ(r.queryAll("permission"), (std::vector<std::string>{"a:b", "c:d"}));
  EXPECT_EQ(r.queryParam("limit"), "5");
  EXPECT_FALSE(r.queryParam("offset"));
}

}  // namespace
}  // namespace gatehouse::http

namespace gatehouse::http {
namespace {

TEST(Router, AParameterNoStoredNameCanBeMatchesNothing) {
  // Found by an outside attack: DELETE /sessions/%00 reached PostgreSQL, which refused the NUL
  // (a 500); SQLite said 404. No id or name holds NUL or invalid UTF-8: the route does not match.
  Router router;
  router.add("DELETE", "/sessions/{id}", [](Request&) { return Response::empty(204); });
  for (const char* path : {"/sessions/%00", "/sessions/a%00b", "/sessions/%FF", "/sessions/%C0%80",
                           "/sessions/%ED%A0%80", "/sessions/%zz"}) {
    auto r = req("DELETE", path);
    const Response res = router.dispatch(r);
    EXPECT_EQ(res.status, 404) << path;
    EXPECT_FALSE(res.has("Allow")) << path;
    EXPECT_TRUE(r.path_params.empty()) << path;
  }
  auto ok = req("DELETE", "/sessions/%C3%A9t%C3%A9");
  EXPECT_EQ(router.dispatch(ok).status, 204);
}

}  // namespace
}  // namespace gatehouse::http
