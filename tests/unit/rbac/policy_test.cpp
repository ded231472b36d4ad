#include "rbac/policy.hpp"

#include <gtest/gtest.h>

namespace gatehouse::rbac {
namespace {

using Perms = std::vector<std::string>;

// The permissions a route asks for (nullopt: no rule matches), and whether it asks for a second
// factor.
std::optional<Perms> permissionsFor(const Policy& p, std::string_view method,
                                    std::string_view path) {
  const auto r = p.routeRequirement(method, path);
  if (!r) return std::nullopt;
  return r->permissions;
}
bool needsMfa(const Policy& p, std::string_view method, std::string_view path) {
  const auto r = p.routeRequirement(method, path);
  return r && r->mfa;
}

TEST(Policy, DefaultsAreTheSeeds) {
  const Policy p = Policy::defaults();
  EXPECT_EQ(p.permissionsOf("user"), (Perms{"posts:read", "posts:write", "users:read"}));
  EXPECT_EQ(p.permissionsOf("moderator"),
            (Perms{"posts:delete", "posts:read", "posts:write", "users:read", "users:write"}));
  EXPECT_EQ(
      p.permissionsOf("admin"),
      (Perms{"analytics:view", "clients:manage", "posts:delete", "posts:read", "posts:write",
             "roles:manage", "tokens:introspect", "users:delete", "users:read", "users:write"}));
  EXPECT_EQ(p.roles(), (Perms{"admin", "moderator", "user"}));
  EXPECT_TRUE(p.permissionsOf("nobody").empty());
}

TEST(Policy, FileAddsPermissionsAndRolesAndAdminGetsThemAll) {
  auto p = Policy::fromJson(
      R"({"permissions":["reports:view"],"roles":{"analyst":["reports:view","users:read"]}})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->permissionsOf("analyst"), (Perms{"reports:view", "users:read"}));
  EXPECT_TRUE(p->hasPermission("reports:view"));
  const auto& admin = p->permissionsOf("admin");
  EXPECT_NE(std::find(admin.begin(), admin.end(), "reports:view"), admin.end());
  EXPECT_TRUE(p->hasRole("user"));
}

TEST(Policy, BadFilesAreRefusedWithAReason) {
  for (const char* bad :
       {R"({"roles":{"x":["ghost:perm"]}})", R"({"roles":{"admin":[]}})",
        R"({"roles":{"Bad Name":[]}})", R"({"permissions":["NoColon"]})", R"({"roles":[]})",
        R"({"extra":1})", R"([1])", "{", R"({"roles":{"a":["users:read"]},"roles":{}})"}) {
    auto p = Policy::fromJson(bad);
    EXPECT_FALSE(p) << bad;
    if (!p) {
      EXPECT_FALSE(p.error().message.empty());
    }
  }
  EXPECT_FALSE(Policy::loadFile("/nonexistent/policy.json"));
}

TEST(PolicyRoutes, MatchNormalisedPathsFolderPrefixesAndAnyCase) {
  auto p = Policy::fromJson(R"({"routes": [
      {"method": "*", "path": "/admin/*", "permissions": ["users:delete"]},
      {"method": "GET", "path": "/reports", "permissions": ["analytics:view"]},
      {"method": "POST", "path": "/up*", "permissions": ["posts:write"]}]})");
  ASSERT_TRUE(p) << p.error().message;
  const Perms admin{"users:delete"};
  EXPECT_EQ(permissionsFor(*p, "GET", "/admin"), admin);
  EXPECT_EQ(permissionsFor(*p, "DELETE", "/admin/panel"), admin);
  EXPECT_EQ(permissionsFor(*p, "get", "/admin/a/b"), admin);
  EXPECT_EQ(permissionsFor(*p, "GET", "/administrator"), std::nullopt);
  EXPECT_EQ(permissionsFor(*p, "GET", "/reports"), (Perms{"analytics:view"}));
  EXPECT_EQ(permissionsFor(*p, "Get", "/reports"), (Perms{"analytics:view"}));
  // A method no rule of the path matches meets its GET rule (an outside attack: an application
  // ignoring the method served its GET to a PUT).
  EXPECT_EQ(permissionsFor(*p, "PUT", "/reports"), (Perms{"analytics:view"}));
  EXPECT_EQ(permissionsFor(*p, "OPTIONS", "/reports"), (Perms{"analytics:view"}));
  EXPECT_EQ(permissionsFor(*p, "PUT", "/upload"), std::nullopt);  // a POST rule alone: open
  // A catch-all rule after it does not name PUT either (a review: PUT passed the GET rule there).
  auto baseline = Policy::fromJson(R"({"routes": [
      {"method": "GET", "path": "/secret/*", "permissions": ["users:write"]},
      {"method": "PUT", "path": "/secret/open", "permissions": []},
      {"method": "*", "path": "/*", "permissions": []}]})");
  ASSERT_TRUE(baseline) << baseline.error().message;
  EXPECT_EQ(permissionsFor(*baseline, "PUT", "/secret/x"), (Perms{"users:write"}));
  EXPECT_EQ(permissionsFor(*baseline, "DELETE", "/secret/x"), (Perms{"users:write"}));
  EXPECT_EQ(permissionsFor(*baseline, "PUT", "/secret/open"), Perms{});  // its own rule decides
  EXPECT_EQ(permissionsFor(*baseline, "PUT", "/elsewhere"), Perms{});
  EXPECT_EQ(permissionsFor(*p, "POST", "/reports"), (Perms{"analytics:view"}));  // may be a GET
  EXPECT_EQ(permissionsFor(*p, "HEAD", "/reports"), (Perms{"analytics:view"}));
  EXPECT_EQ(permissionsFor(*p, "GET", "/reports/x"), std::nullopt);
  EXPECT_FALSE(needsMfa(*p, "GET", "/reports"));
  EXPECT_EQ(permissionsFor(*p, "POST", "/upload"), (Perms{"posts:write"}));
  EXPECT_EQ(permissionsFor(*p, "POST", "/up"), (Perms{"posts:write"}));
  EXPECT_TRUE(p->hasRouteRules());
  EXPECT_FALSE(Policy::defaults().hasRouteRules());
}

TEST(PolicyRoutes, RuleSpellingsAreNormalisedLikeRequests) {
  auto p = Policy::fromJson(
      R"({"routes": [{"method": "GET", "path": "/Reports/", "permissions": ["analytics:view"]}]})");
  ASSERT_TRUE(p);
  EXPECT_EQ(permissionsFor(*p, "GET", "/reports"), (Perms{"analytics:view"}));
}

TEST(PolicyRoutes, UnknownMethodsAndOddPathsAreRefused) {
  for (const char* bad : {
           R"({"routes": [{"method": "FETCH", "path": "/a", "permissions": []}]})",
           R"({"routes": [{"method": "get", "path": "/a", "permissions": []}]})",
           R"({"routes": [{"method": "GET", "path": "/a*b", "permissions": []}]})",
           R"({"routes": [{"method": "GET", "path": "/a%2Fb", "permissions": []}]})",
           R"({"routes": [{"method": "GET", "path": "a", "permissions": []}]})",
       }) {
    auto p = Policy::fromJson(bad);
    EXPECT_FALSE(p) << bad;
  }
  auto p =
      Policy::fromJson(R"({"routes": [{"method": "FETCH", "path": "/a", "permissions": []}]})");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("FETCH"), std::string::npos);
}

TEST(PolicyRoutes, APostMeetsTheRulesOfTheMethodsItMayStandFor) {
  // Rails, Laravel, Symfony, Express's method-override and Spring take a POST's method from a
  // `_method` field or an X-HTTP-Method-Override header, which the proxy never checks: a DELETE
  // rule that a POST escapes protects nothing.
  const char* rules = R"("routes": [
      {"method": "DELETE", "path": "/admin/*", "permissions": ["users:delete"]},
      {"method": "PATCH", "path": "/admin/*", "permissions": ["users:write"], "mfa": true},
      {"method": "POST", "path": "/admin/*", "permissions": ["users:write"]},
      {"method": "GET", "path": "/admin/*", "permissions": ["users:read"]}])";
  auto p = Policy::fromJson(std::string("{") + rules + "}");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(permissionsFor(*p, "POST", "/admin/users/5"),
            (Perms{"users:write", "users:read", "users:delete"}));
  EXPECT_TRUE(needsMfa(*p, "post", "/admin/users/5"));
  EXPECT_EQ(permissionsFor(*p, "DELETE", "/admin/users/5"), (Perms{"users:delete"}));
  EXPECT_FALSE(needsMfa(*p, "DELETE", "/admin/users/5"));
  EXPECT_EQ(permissionsFor(*p, "GET", "/admin/users/5"), (Perms{"users:read"}));  // never widened
  EXPECT_EQ(permissionsFor(*p, "PUT", "/admin/users/5"), (Perms{"users:read"}));  // as its GET
  EXPECT_EQ(permissionsFor(*p, "POST", "/elsewhere"), std::nullopt);
  // A POST with no rule of its own still meets the DELETE rule, and a GET-only one (a review:
  // Rack runs `POST /reports/q?_method=GET` as the GET).
  auto only_delete = Policy::fromJson(
      R"({"routes": [{"method": "DELETE", "path": "/admin/*", "permissions": ["users:delete"]},
                     {"method": "GET", "path": "/reports/*", "permissions": ["analytics:view"]}]})");
  ASSERT_TRUE(only_delete);
  EXPECT_EQ(permissionsFor(*only_delete, "POST", "/admin/users/5"), (Perms{"users:delete"}));
  EXPECT_EQ(permissionsFor(*only_delete, "POST", "/reports/q"), (Perms{"analytics:view"}));
  EXPECT_EQ(permissionsFor(*only_delete, "PUT", "/reports/q"), (Perms{"analytics:view"}));
  EXPECT_EQ(permissionsFor(*only_delete, "GET", "/admin/users/5"), std::nullopt);  // never widened
  EXPECT_EQ(permissionsFor(*only_delete, "PUT", "/admin/users/5"), std::nullopt);  // no GET rule
  // A policy for applications that never tunnel says so; anything but a boolean stops the start.
  auto plain = Policy::fromJson(std::string(R"({"method_override": false, )") + rules + "}");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(permissionsFor(*plain, "POST", "/admin/users/5"), (Perms{"users:write"}));
  EXPECT_FALSE(needsMfa(*plain, "POST", "/admin/users/5"));
  EXPECT_FALSE(Policy::fromJson(R"({"method_override": "no"})"));
  EXPECT_FALSE(Policy::fromJson(R"({"method_overide": false})"));
  // A method no rule can name meets every method's rules, whatever method_override says (a
  // review: "FOO /reports" passed a GET rule, and an application ignoring the method serves it).
  EXPECT_EQ(permissionsFor(*only_delete, "PROPFIND", "/reports/q"), (Perms{"analytics:view"}));
  EXPECT_EQ(permissionsFor(*only_delete, "FOO", "/admin/users/5"), (Perms{"users:delete"}));
  EXPECT_EQ(permissionsFor(*plain, "foo", "/admin/users/5"),
            (Perms{"users:read", "users:write", "users:delete"}));  // in kMethods' order
  EXPECT_TRUE(needsMfa(*plain, "FOO", "/admin/users/5"));
  // A WebDAV method a rule names meets its own rule only (a read-only user's PROPFIND), and one
  // no rule names every rule (a review: WebDAV could not be given read-only access).
  auto dav = Policy::fromJson(
      R"({"routes": [{"method": "GET", "path": "/dav/*", "permissions": ["analytics:view"]},
                     {"method": "PUT", "path": "/dav/*", "permissions": ["users:write"]},
                     {"method": "PROPFIND", "path": "/dav/*", "permissions": ["analytics:view"]}]})");
  ASSERT_TRUE(dav) << dav.error().message;
  EXPECT_EQ(permissionsFor(*dav, "PROPFIND", "/dav/a"), (Perms{"analytics:view"}));
  EXPECT_EQ(permissionsFor(*dav, "MKCOL", "/dav/a"), (Perms{"analytics:view", "users:write"}));
  // Named on one path, PROPFIND meets every rule on another (a review: a WebDAV rule on /dav let
  // PROPFIND through /admin with no permission at all), and methods are case-sensitive.
  auto both = Policy::fromJson(
      R"({"routes": [{"method": "GET", "path": "/admin/*", "permissions": ["users:read"]},
                     {"method": "PUT", "path": "/admin/*", "permissions": ["users:write"]},
                     {"method": "MOVE", "path": "/dav/*", "permissions": ["users:delete"]},
                     {"method": "PROPFIND", "path": "/dav/*", "permissions": ["analytics:view"]}]})");
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_EQ(permissionsFor(*both, "PROPFIND", "/admin/x"), (Perms{"users:read", "users:write"}));
  EXPECT_EQ(permissionsFor(*both, "propfind", "/dav/a"), (Perms{"analytics:view", "users:delete"}));
  // A POST may stand for a WebDAV method too (Express's method-override takes any).
  EXPECT_EQ(permissionsFor(*both, "POST", "/dav/a"), (Perms{"analytics:view", "users:delete"}));
  EXPECT_FALSE(Policy::fromJson(
      R"({"routes": [{"method": "PROPFIN", "path": "/dav/*", "permissions": []}]})"));
}

TEST(PolicyRoutes, ARuleMayRequireASecondFactor) {
  auto p = Policy::fromJson(R"({"routes": [
      {"method": "*", "path": "/vault/*", "permissions": [], "mfa": true},
      {"method": "GET", "path": "/open", "permissions": []}]})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(needsMfa(*p, "POST", "/vault/x"));
  EXPECT_FALSE(needsMfa(*p, "GET", "/open"));
  EXPECT_FALSE(needsMfa(*p, "GET", "/elsewhere"));
  EXPECT_FALSE(Policy::fromJson(
      R"({"routes": [{"method": "*", "path": "/v", "permissions": [], "mfa": "yes"}]})"));
  // A misspelt member must not silently drop a requirement.
  EXPECT_FALSE(Policy::fromJson(
      R"({"routes": [{"method": "*", "path": "/v", "permissions": [], "mfa_required": true}]})"));
}

TEST(Authorization, IsRolePermissionsIntersectScopes) {
  const Perms role = {"posts:read", "posts:write", "users:read"};
  EXPECT_EQ(effectivePermissions(role, {"users:read", "roles:manage"}), (Perms{"users:read"}));
  EXPECT_TRUE(effectivePermissions(role, {}).empty());
  EXPECT_TRUE(allows({"a:b", "c:d"}, {"c:d"}));
  EXPECT_FALSE(allows({"a:b"}, {"a:b", "c:d"}));
  EXPECT_TRUE(allows({}, {}));
}

}  // namespace
}  // namespace gatehouse::rbac

namespace gatehouse::rbac {
namespace {

TEST(Allows, AnyOfNeedsOneAndNothingForAnEmptyList) {
  const std::vector<std::string> granted{"users:read", "analytics:view"};
  constexpr std::string_view kConsole[] = {"users:write", "analytics:view"};
  constexpr std::string_view kWrite[] = {"users:write"};
  EXPECT_TRUE(allowsAny(granted, kConsole));
  EXPECT_FALSE(allowsAny(granted, kWrite));
  EXPECT_FALSE(allowsAny(granted, {}));
  EXPECT_FALSE(allowsAny({}, kConsole));
}

}  // namespace
}  // namespace gatehouse::rbac
