#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace gatehouse::rbac {

inline constexpr std::string_view kAdminRole = "admin";
inline constexpr std::string_view kDefaultRole = "user";
// A policy file larger than this is refused unread (a big one holds a few thousand route rules).
inline constexpr std::size_t kMaxPolicyFileBytes = 1024 * 1024;

// Roles and the permissions they grant. Defaults are exactly the seed design's; a policy file can
// add permissions and roles (and redefine non-admin roles). `admin` always holds every
// permission. Immutable after construction, so thread-safe.
class Policy {
 public:
  static Policy defaults();
  // Parses a policy document: {"permissions": [...], "roles": {"name": [...]}} applied on top of
  // the defaults. InvalidArgument with a message naming the offending entry.
  [[nodiscard]] static core::Result<Policy> fromJson(std::string_view text);
  // The file at `path`: a regular file (a link to one is followed) of at most
  // kMaxPolicyFileBytes, never a FIFO waited on.
  [[nodiscard]] static core::Result<Policy> loadFile(const std::filesystem::path& path);

  bool hasRole(std::string_view role) const;
  bool hasPermission(std::string_view permission) const;
  // Sorted permissions of `role`; empty for an unknown role.
  const std::vector<std::string>& permissionsOf(std::string_view role) const;
  const std::vector<std::string>& allPermissions() const { return all_; }
  std::vector<std::string> roles() const;
  // What the forward-auth route map asks of a request: the permissions of the first matching
  // rule, and whether it says "mfa": true (the sign-in must have used a second factor); nullopt
  // when no rule matches. `normalized_path` comes from core::normalizeRequestPath; methods
  // compare case-insensitively. A rule's path is one exact path ("/reports" also covers
  // "/reports/" and "/REPORTS"), everything at and below a folder ("/admin/*" covers "/admin" and
  // "/admin/x"), or a plain prefix ("/adm*"); method "*" is any, and a GET rule also covers HEAD.
  // A POST must also meet the first rule matching it as each other method, GET included
  // (permissions joined, "mfa" if any says so): applications take a POST's method from a
  // `_method` field or an X-HTTP-Method-Override header the proxy never checks (Rack: GET, HEAD,
  // OPTIONS and more; Express and Symfony: any), unless the file says "method_override": false.
  struct RouteRequirement {
    std::vector<std::string> permissions;
    bool mfa = false;
  };
  std::optional<RouteRequirement> routeRequirement(std::string_view method,
                                                   std::string_view normalized_path) const;
  bool hasRouteRules() const { return !routes_.empty(); }

 private:
  Policy() = default;
  void finish();

  std::set<std::string> permissions_;
  std::map<std::string, std::set<std::string>, std::less<>> role_sets_;
  std::map<std::string, std::vector<std::string>, std::less<>> roles_;
  std::vector<std::string> all_;
  struct RouteRule {
    std::string method;  // upper case, or "*"
    std::string path;    // as written in the file
    std::string base;    // normalised path (without the "*")
    bool prefix = false;
    bool segment_prefix = false;  // "/x/*": /x and below, never /xy
    std::vector<std::string> permissions;
    bool mfa = false;
  };
  const RouteRule* matchRoute(std::string_view method, std::string_view normalized_path) const;
  std::vector<RouteRule> routes_;
  bool method_override_ = true;  // a POST may stand for PUT, PATCH or DELETE
};

// What a request may do: the role's current permissions intersected with the token's scopes.
std::vector<std::string> effectivePermissions(const std::vector<std::string>& role_permissions,
                                              const std::vector<std::string>& scopes);
// True when every permission in `required` is in `granted` (both need not be sorted).
bool allows(const std::vector<std::string>& granted, const std::vector<std::string>& required);
// Whether `granted` holds at least one of `any` (false for an empty `any`).
bool allowsAny(const std::vector<std::string>& granted, std::span<const std::string_view> any);

}  // namespace gatehouse::rbac
