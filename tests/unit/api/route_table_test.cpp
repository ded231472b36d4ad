// The route table is the one place a route's rules live: every route must declare them, and the
// OpenAPI document must describe every route it serves.
#include <map>
#include <set>

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "api/openapi.hpp"
#include "api/page_support.hpp"
#include "api/route.hpp"
#include "config/config.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;

// One table for the whole file (it is read-only once built).
const RouteTable& allRoutes() {
  static const RouteTable* const table = [] {
    auto* t = new RouteTable;
    addAllRoutes(*t);
    return t;
  }();
  return *table;
}

TEST(RouteTable, EveryRouteDeclaresCredentialLaneSummaryTagHandlerAndReplies) {
  const RouteTable& t = allRoutes();
  ASSERT_GT(t.routes().size(), 25U);
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : t.routes()) {
    const std::string name = r.method + " " + r.path;
    EXPECT_TRUE(r.credential.has_value()) << name << ": no credential";
    EXPECT_TRUE(r.lane.has_value()) << name << ": no lane";
    EXPECT_FALSE(r.summary.empty()) << name << ": no summary";
    EXPECT_FALSE(r.tag.empty()) << name << ": no tag";
    EXPECT_TRUE(static_cast<bool>(r.handler)) << name << ": no handler";
    EXPECT_FALSE(r.replies.empty()) << name << ": no documented reply";
    if (r.body != BodyKind::None) {
      EXPECT_FALSE(r.body_schema.empty()) << name;
    }
    EXPECT_TRUE(seen.insert({r.method, r.path}).second) << name << " declared twice";
  }
}

TEST(RouteTable, AccountManagementNeverTakesAnApiKey) {
  // API.md: /auth/password, /auth/sessions*, /auth/identities*, /api-keys and logout manage the
  // caller's own account, and so do asking for a verification mail and changing the email. The
  // forgotten-password calls take no credential at all (the emailed token is the proof).
  for (const auto& r : allRoutes().routes()) {
    if (r.path == "/api/v1/auth/password/forgot" || r.path == "/api/v1/auth/password/reset") {
      EXPECT_EQ(*r.credential, Credential::None) << r.path;
      continue;
    }
    const bool own_account =
        r.path.starts_with("/api/v1/auth/password") ||
        r.path == "/api/v1/auth/email/verify/request" || r.path == "/api/v1/auth/email/change" ||
        r.path.starts_with("/api/v1/auth/sessions") ||
        r.path.starts_with("/api/v1/auth/identities") || r.path.starts_with("/api/v1/api-keys") ||
        r.path == "/api/v1/auth/logout";
    if (own_account) {
      EXPECT_EQ(*r.credential, Credential::UserToken) << r.method << " " << r.path;
    }
  }
}

TEST(RouteTable, PasswordHashingRoutesRunInTheHashingLane) {
  for (const auto& r : allRoutes().routes()) {
    const bool hashes = r.path == "/api/v1/auth/login" || r.path == "/api/v1/auth/register" ||
                        r.path == "/api/v1/auth/password" ||
                        r.path == "/api/v1/auth/password/reset" ||
                        (r.path == "/ui/reset-password" && r.method == "POST");
    if (hashes) {
      EXPECT_EQ(*r.lane, http::Lane::Hashing) << r.path;
    }
  }
}

TEST(RouteTable, PasswordRoutesDeclareTheirRateLimitsAndNoneRunsOnTheIoThread) {
  std::map<std::string, std::set<std::string>> declared;  // path -> settings
  for (const auto& r : allRoutes().routes()) {
    for (const auto& rule : r.limits) {
      declared[r.path].insert(rule.setting);
      // Counting may wait for Redis: never on the I/O thread.
      EXPECT_NE(*r.lane, http::Lane::Inline) << r.path;
      // A real variable, so an operator can find and set it.
      EXPECT_TRUE(config::variables().contains(rule.setting)) << r.path << " " << rule.setting;
      EXPECT_FALSE(rule.name.empty()) << r.path;
      EXPECT_FALSE(rule.keys.empty()) << r.path;
    }
  }
  EXPECT_EQ(declared["/api/v1/auth/register"], std::set<std::string>{"REGISTER_RATE_LIMIT"});
  EXPECT_EQ(declared["/api/v1/auth/login"],
            (std::set<std::string>{"LOGIN_RATE_LIMIT", "REFRESH_RATE_LIMIT"}));
  EXPECT_EQ(declared["/api/v1/auth/password"], std::set<std::string>{"LOGIN_RATE_LIMIT"});
  EXPECT_EQ(declared["/api/v1/auth/refresh"], std::set<std::string>{"REFRESH_RATE_LIMIT"});
}

TEST(RouteTable, EveryPageFormChecksCsrfAndPagesAreHiddenFromTheApiDocument) {
  std::size_t forms = 0;
  for (const auto& r : allRoutes().routes()) {
    const std::string name = r.method + " " + r.path;
    if (!r.path.starts_with("/ui")) {
      EXPECT_FALSE(r.csrf) << name;
      EXPECT_NE(*r.credential, Credential::Session) << name << ": the cookie is for pages";
      continue;
    }
    EXPECT_TRUE(r.hidden) << name;
    if (r.method == "GET") continue;
    ++forms;
    EXPECT_TRUE(r.csrf) << name;
    EXPECT_EQ(r.body, BodyKind::Form) << name;
    // A page never takes a bearer token or an API key: the cookie, or nothing.
    EXPECT_TRUE(*r.credential == Credential::Session || *r.credential == Credential::None) << name;
  }
  EXPECT_GE(forms, 24U);
}

TEST(RouteTable, APageFormHasTheRulesOfItsApiRoute) {
  std::map<std::string, const Route*> by_name;
  for (const auto& r : allRoutes().routes()) by_name[r.method + " " + r.path] = &r;
  const std::pair<const char*, const char*> pairs[] = {
      {"POST /api/v1/auth/password", "POST /ui/account/password"},
      {"POST /api/v1/api-keys", "POST /ui/account/api-keys"},
      {"DELETE /api/v1/auth/mfa/{id}", "POST /ui/account/mfa/{id}/remove"},
      {"POST /api/v1/auth/email/change", "POST /ui/account/email"},
      {"PUT /api/v1/users/{id}/role", "POST /ui/admin/users/{id}/role"},
      {"DELETE /api/v1/users/{id}/mfa", "POST /ui/admin/users/{id}/mfa-reset"},
      {"PUT /api/v1/users/{id}/password", "POST /ui/admin/users/{id}/password"},
      {"POST /api/v1/auth/mfa/totp/{id}/confirm", "POST /ui/account/mfa/totp/{id}/confirm"},
      {"POST /api/v1/auth/webauthn/register", "POST /ui/account/passkeys"},
  };
  for (const auto& [api_name, page_name] : pairs) {
    ASSERT_TRUE(by_name.contains(api_name)) << api_name;
    ASSERT_TRUE(by_name.contains(page_name)) << page_name;
    const Route& api = *by_name[api_name];
    const Route& page = *by_name[page_name];
    EXPECT_EQ(page.permissions, api.permissions) << page_name;
    EXPECT_EQ(page.step_up, api.step_up) << page_name;
    EXPECT_EQ(page.factor_proof, api.factor_proof) << page_name;
    EXPECT_FALSE(api.step_up && api.factor_proof) << api_name << ": step-up holds the proof";
    EXPECT_EQ(page.before_mfa_enrolment, api.before_mfa_enrolment) << page_name;
    EXPECT_EQ(*page.lane, *api.lane) << page_name;
    ASSERT_EQ(page.limits.size(), api.limits.size()) << page_name;
    for (std::size_t i = 0; i < api.limits.size(); ++i) {
      EXPECT_EQ(page.limits[i].setting, api.limits[i].setting) << page_name;
      EXPECT_EQ(page.limits[i].name, api.limits[i].name) << page_name;  // the same counters
    }
    EXPECT_EQ(*page.credential, Credential::Session) << page_name;
  }
  // The portal's other posts count under their API route's rules and names.
  for (const auto& [api_name, page_name] :
       {std::pair<const char*, const char*>{"POST /api/v1/auth/register", "POST /ui/register"},
        {"POST /api/v1/auth/password/forgot", "POST /ui/forgot-password"},
        {"POST /api/v1/auth/mfa/verify", "POST /ui/login/mfa"}}) {
    ASSERT_TRUE(by_name.contains(api_name) && by_name.contains(page_name)) << page_name;
    const auto& api = by_name[api_name]->limits;
    const auto& page = by_name[page_name]->limits;
    ASSERT_EQ(page.size(), api.size()) << page_name;
    for (std::size_t i = 0; i < api.size(); ++i) {
      EXPECT_EQ(page[i].setting, api[i].setting) << page_name;
      EXPECT_EQ(page[i].name, api[i].name) << page_name;
    }
  }
  // The portal's password step counts under the API login's own counters.
  const Route& login = *by_name["POST /ui/login"];
  ASSERT_EQ(login.limits.size(), 1U);
  EXPECT_EQ(login.limits[0].setting, "LOGIN_RATE_LIMIT");
  EXPECT_EQ(login.limits[0].name, "login");
  EXPECT_EQ(*login.lane, http::Lane::Hashing);
}

TEST(RouteTable, APageFormWithoutItsApiRouteIsRefusedAtStartup) {
  RouteTable t;
  EXPECT_THROW(pages::addForm(t, "POST", "/api/v1/nowhere", "/ui/x", "x",
                              [](Call&) { return http::Response::empty(204); }),
               std::logic_error);
}

// Every "$ref" in `v`, collected.
void refs(const json::value& v, std::set<std::string>& out) {
  if (const auto* o = v.if_object()) {
    for (const auto& [k, child] : *o) {
      if (k == "$ref" && child.is_string()) out.insert(std::string(child.get_string()));
      refs(child, out);
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& child : *a) refs(child, out);
  }
}

TEST(OpenApi, DescribesEveryVisibleRouteWithUniqueOperationIdsAndResolvableRefs) {
  const RouteTable& t = allRoutes();
  const json::object doc = openApiDocument(t, {"https://auth.example.com", {"users:read"}});
  EXPECT_EQ(doc.at("openapi").as_string(), "3.1.0");
  const auto& paths = doc.at("paths").as_object();
  std::set<std::string> ids;
  for (const auto& r : t.routes()) {
    if (r.hidden) continue;
    std::string method = r.method;
    for (char& c : method) c = static_cast<char>(c - 'A' + 'a');
    ASSERT_TRUE(paths.contains(r.path)) << r.path;
    ASSERT_TRUE(paths.at(r.path).as_object().contains(method)) << r.method << " " << r.path;
    const auto& op = paths.at(r.path).at(method).as_object();
    EXPECT_TRUE(ids.insert(std::string(op.at("operationId").as_string())).second);
    const auto& responses = op.at("responses").as_object();
    if (*r.credential != Credential::None) {
      EXPECT_TRUE(responses.contains("401")) << r.path;
    }
    if (r.body != BodyKind::None) {
      EXPECT_TRUE(responses.contains("422")) << r.path;
    }
  }
  std::set<std::string> all;
  refs(doc, all);
  const auto& schemas = doc.at("components").at("schemas").as_object();
  for (const auto& ref : all) {
    const std::string prefix = "#/components/schemas/";
    ASSERT_TRUE(ref.starts_with(prefix)) << ref;
    EXPECT_TRUE(schemas.contains(ref.substr(prefix.size()))) << ref;
  }
  const auto& password = doc.at("components")
                             .at("securitySchemes")
                             .at("OAuth2PasswordBearer")
                             .at("flows")
                             .at("password")
                             .as_object();
  EXPECT_EQ(password.at("tokenUrl").as_string(), "/api/v1/auth/login");
  EXPECT_EQ(doc.at("servers").at(0).at("url").as_string(), "https://auth.example.com");
}

TEST(OpenApi, SecurityFollowsTheDeclaredCredential) {
  const json::object doc = openApiDocument(allRoutes(), {"http://x", {}});
  const auto& me = doc.at("paths").at("/api/v1/auth/me").at("get").as_object();
  EXPECT_EQ(me.at("security").as_array().size(), 3U);  // bearer, key header, key query
  const auto& sessions = doc.at("paths").at("/api/v1/auth/sessions").at("get").as_object();
  EXPECT_EQ(json::serialize(sessions.at("security")), R"([{"OAuth2PasswordBearer":[]}])");
  const auto& users = doc.at("paths").at("/api/v1/users").at("get").as_object();
  EXPECT_EQ(json::serialize(users.at("security").at(0)),
            R"({"OAuth2PasswordBearer":["users:read"]})");
  // Open routes say so: an empty list, not a missing field a reader has to interpret.
  EXPECT_EQ(json::serialize(doc.at("paths").at("/healthz").at("get").at("security")), "[]");
  // What the middleware and the server answer on a route's behalf is described from the
  // declaration: 429 from its limits, 413 for a body, 503 for storage or the hashing queue.
  const auto& login = doc.at("paths").at("/api/v1/auth/login").at("post").at("responses");
  for (const char* status : {"413", "422", "429", "503"})
    EXPECT_TRUE(login.as_object().contains(status)) << status;
  EXPECT_NE(std::string(login.at("429").at("description").as_string())
                .find("LOGIN_RATE_LIMIT per client address, per account"),
            std::string::npos);
  EXPECT_FALSE(
      doc.at("paths").at("/healthz").at("get").at("responses").as_object().contains("503"));
}

}  // namespace
}  // namespace gatehouse::api
