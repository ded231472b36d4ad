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
  EXPECT_EQ(p.permissionsOf("admin"),
            (Perms{"analytics:view", "posts:delete", "posts:read", "posts:write", "roles:manage",
                   "tokens:introspect", "users:delete", "users:read", "users:write"}));
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
