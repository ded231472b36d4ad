#include "rbac/policy.hpp"

#include <gtest/gtest.h>

namespace gatehouse::rbac {
namespace {

using Perms = std::vector<std::string>;

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
  EXPECT_EQ(p->permissionsForRoute("GET", "/admin"), admin);
  EXPECT_EQ(p->permissionsForRoute("DELETE", "/admin/panel"), admin);
  EXPECT_EQ(p->permissionsForRoute("get", "/admin/a/b"), admin);
  EXPECT_EQ(p->permissionsForRoute("GET", "/administrator"), std::nullopt);
  EXPECT_EQ(p->permissionsForRoute("GET", "/reports"), (Perms{"analytics:view"}));
  EXPECT_EQ(p->permissionsForRoute("Get", "/reports"), (Perms{"analytics:view"}));
  EXPECT_EQ(p->permissionsForRoute("POST", "/reports"), std::nullopt);
  EXPECT_EQ(p->permissionsForRoute("HEAD", "/reports"), (Perms{"analytics:view"}));
  EXPECT_EQ(p->permissionsForRoute("GET", "/reports/x"), std::nullopt);
  EXPECT_FALSE(p->routeNeedsMfa("GET", "/reports"));
  EXPECT_EQ(p->permissionsForRoute("POST", "/upload"), (Perms{"posts:write"}));
  EXPECT_EQ(p->permissionsForRoute("POST", "/up"), (Perms{"posts:write"}));
  EXPECT_TRUE(p->hasRouteRules());
  EXPECT_FALSE(Policy::defaults().hasRouteRules());
}

TEST(PolicyRoutes, RuleSpellingsAreNormalisedLikeRequests) {
  auto p = Policy::fromJson(
      R"({"routes": [{"method": "GET", "path": "/Reports/", "permissions": ["analytics:view"]}]})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->permissionsForRoute("GET", "/reports"), (Perms{"analytics:view"}));
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

TEST(PolicyRoutes, ARuleMayRequireASecondFactor) {
  auto p = Policy::fromJson(R"({"routes": [
      {"method": "*", "path": "/vault/*", "permissions": [], "mfa": true},
      {"method": "GET", "path": "/open", "permissions": []}]})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->routeNeedsMfa("POST", "/vault/x"));
  EXPECT_FALSE(p->routeNeedsMfa("GET", "/open"));
  EXPECT_FALSE(p->routeNeedsMfa("GET", "/elsewhere"));
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
