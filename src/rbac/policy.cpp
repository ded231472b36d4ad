#include "rbac/policy.hpp"

#include <algorithm>
#include <array>

#include <boost/json/serialize.hpp>

#include "core/files.hpp"
#include "core/strict_json.hpp"
#include "core/uri_path.hpp"

namespace gatehouse::rbac {
namespace {

using core::Errc;
using core::makeError;

// [a-z][a-z0-9_-]{0,31}
bool validWord(std::string_view s) {
  if (s.empty() || s.size() > 32 || s.front() < 'a' || s.front() > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Roles are one word; permissions are resource:action.
bool validName(std::string_view s, bool permission) {
  if (!permission) return validWord(s);
  const auto colon = s.find(':');
  return colon != std::string_view::npos && validWord(s.substr(0, colon)) &&
         validWord(s.substr(colon + 1));
}

// RFC 9110 §9 methods (and "*" for any); anything else in a route rule is a typo that would
// silently never match, but for the WebDAV family's (RFC 4918, 3253, 3744, 4791, 5323, 5842),
// which a rule may name: a method no rule names meets every method's rules (routeRequirement),
// and a read-only WebDAV user's PROPFIND must be given a rule of its own (a review).
constexpr std::string_view kMethods[] = {"GET",    "HEAD",    "POST",    "PUT",  "PATCH",
                                         "DELETE", "OPTIONS", "CONNECT", "TRACE"};
constexpr std::string_view kWebDavMethods[] = {
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY",       "MOVE", "LOCK",   "UNLOCK",
    "REPORT",   "SEARCH",    "ACL",   "MKCALENDAR", "BIND", "UNBIND", "REBIND"};

bool in(std::string_view m, const auto& list) {
  return std::find(std::begin(list), std::end(list), m) != std::end(list);
}

bool knownMethod(std::string_view m) {
  return m == "*" || in(m, kMethods) || in(m, kWebDavMethods);
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

Policy Policy::defaults() {
  Policy p;
  p.permissions_ = {"users:read",        "users:write",   "users:delete", "posts:read",
                    "posts:write",       "posts:delete",  "roles:manage", "analytics:view",
                    "tokens:introspect", "clients:manage"};
  p.role_sets_["user"] = {"users:read", "posts:read", "posts:write"};
  p.role_sets_["moderator"] = {"users:read", "users:write", "posts:read", "posts:write",
                               "posts:delete"};
  p.finish();
  return p;
}

void Policy::finish() {
  role_sets_[std::string(kAdminRole)] = permissions_;
  all_.assign(permissions_.begin(), permissions_.end());
  roles_.clear();
  for (const auto& [name, perms] : role_sets_) roles_[name] = {perms.begin(), perms.end()};
}

core::Result<Policy> Policy::fromJson(std::string_view text) {
  auto doc = core::parseStrictJson(text, {.max_bytes = 1U << 20U, .max_depth = 8});
  if (!doc)
    return makeError(Errc::InvalidArgument,
                     "policy file is not valid JSON: " + doc.error().message);
  if (!doc->is_object())
    return makeError(Errc::InvalidArgument, "policy file must be a JSON object");
  Policy p = defaults();
  const auto& root = doc->get_object();
  for (const auto& kv : root) {
    if (kv.key() != "permissions" && kv.key() != "roles" && kv.key() != "routes" &&
        kv.key() != "method_override") {
      return makeError(Errc::InvalidArgument,
                       "policy file: unknown member \"" + std::string(kv.key()) + "\"");
    }
  }
  if (const auto* perms = root.if_contains("permissions")) {
    if (!perms->is_array())
      return makeError(Errc::InvalidArgument, "policy file: \"permissions\" must be an array");
    for (const auto& v : perms->get_array()) {
      if (!v.is_string() || !validName(std::string(v.get_string()), true)) {
        return makeError(
            Errc::InvalidArgument,
            "policy file: permissions must look like resource:action (lowercase), got " +
                boost::json::serialize(v));
      }
      p.permissions_.insert(std::string(v.get_string()));
    }
  }
  if (const auto* roles = root.if_contains("roles")) {
    if (!roles->is_object())
      return makeError(Errc::InvalidArgument, "policy file: \"roles\" must be an object");
    for (const auto& kv : roles->get_object()) {
      const std::string name(kv.key());
      if (!validName(name, false)) {
        return makeError(Errc::InvalidArgument, "policy file: bad role name \"" + name + "\"");
      }
      if (name == kAdminRole) {
        return makeError(
            Errc::InvalidArgument,
            "policy file: role \"admin\" always has every permission and cannot be redefined");
      }
      if (!kv.value().is_array()) {
        return makeError(Errc::InvalidArgument,
                         "policy file: role \"" + name + "\" must list its permissions");
      }
      std::set<std::string> granted;
      for (const auto& v : kv.value().get_array()) {
        const std::string perm = v.is_string() ? std::string(v.get_string()) : std::string();
        if (!p.permissions_.contains(perm)) {
          return makeError(Errc::InvalidArgument, "policy file: role \"" + name +
                                                      "\" names unknown permission " +
                                                      boost::json::serialize(v));
        }
        granted.insert(perm);
      }
      p.role_sets_[name] = std::move(granted);
    }
  }
  if (const auto* override = root.if_contains("method_override")) {
    if (!override->is_bool()) {
      return makeError(Errc::InvalidArgument,
                       "policy file: \"method_override\" must be true or false");
    }
    p.method_override_ = override->get_bool();
  }
  if (const auto* routes = root.if_contains("routes")) {
    if (!routes->is_array())
      return makeError(Errc::InvalidArgument, "policy file: \"routes\" must be an array");
    for (const auto& r : routes->get_array()) {
      const auto* o = r.if_object();
      const auto* method = o != nullptr ? o->if_contains("method") : nullptr;
      const auto* path = o != nullptr ? o->if_contains("path") : nullptr;
      const auto* perms = o != nullptr ? o->if_contains("permissions") : nullptr;
      if (method == nullptr || !method->is_string() || path == nullptr || !path->is_string() ||
          !path->get_string().starts_with("/") || perms == nullptr || !perms->is_array()) {
        return makeError(Errc::InvalidArgument,
                         "policy file: each route needs \"method\", a \"path\" starting with / and "
                         "\"permissions\"");
      }
      const std::string method_name(method->get_string());
      const std::string path_text(path->get_string());
      if (!knownMethod(method_name)) {
        return makeError(Errc::InvalidArgument, "policy file: route " + path_text +
                                                    " has unknown method \"" + method_name +
                                                    "\" (use GET, POST, PUT, PATCH, DELETE, HEAD, "
                                                    "OPTIONS, CONNECT, TRACE, a WebDAV method such "
                                                    "as PROPFIND, or *)");
      }
      // "/admin/*" covers /admin and everything below it; "/adm*" is a plain prefix of the
      // normalised path; anything else is one exact (normalised) path.
      const bool prefix = path_text.ends_with('*');
      const std::string base_text = prefix ? path_text.substr(0, path_text.size() - 1) : path_text;
      auto base = core::normalizeRequestPath(base_text);
      if (!base || base_text.find('*') != std::string::npos) {
        return makeError(Errc::InvalidArgument,
                         "policy file: route path " + path_text +
                             " is not a plain path (at most one * at the end)");
      }
      RouteRule rule{method_name, path_text, *base, prefix, prefix && base_text.ends_with('/'), {}};
      for (const auto& member : *o) {
        if (member.key() != "method" && member.key() != "path" && member.key() != "permissions" &&
            member.key() != "mfa") {
          return makeError(Errc::InvalidArgument, "policy file: route " + path_text +
                                                      " has unknown member \"" +
                                                      std::string(member.key()) + "\"");
        }
      }
      if (const auto* mfa = o->if_contains("mfa")) {
        if (!mfa->is_bool()) {
          return makeError(Errc::InvalidArgument,
                           "policy file: route " + path_text + ": \"mfa\" must be true or false");
        }
        rule.mfa = mfa->get_bool();
      }
      for (const auto& v : perms->get_array()) {
        const std::string perm = v.is_string() ? std::string(v.get_string()) : std::string();
        if (!p.permissions_.contains(perm)) {
          return makeError(Errc::InvalidArgument, "policy file: route " + rule.path +
                                                      " names unknown permission " +
                                                      boost::json::serialize(v));
        }
        rule.permissions.push_back(perm);
      }
      p.routes_.push_back(std::move(rule));
    }
  }
  p.finish();
  return p;
}

std::optional<Policy::RouteRequirement> Policy::routeRequirement(
    std::string_view method, std::string_view normalized_path) const {
  // The request's own method's rule, then (a POST, an unnamed method) every method's a rule may
  // name: no allocation here for a method of up to 15 bytes (upper()'s short string), on the
  // path of every forward-auth check.
  std::array<const RouteRule*, 1 + std::size(kMethods) + std::size(kWebDavMethods)> rules{};
  std::size_t count = 0;
  rules[count++] = matchRoute(method, normalized_path);
  const std::string m = upper(method);
  // A method this path's rules do not name exactly (FOO; a PROPFIND where only a * rule or no
  // rule matches; "propfind", since methods are case-sensitive and an application may take it
  // for anything) meets every method's rules: an application that ignores the method (a plain
  // PHP script, a Go handler, a Django view) serves its GET for it (reviews: it passed a GET
  // rule; then a WebDAV rule on one path let the method through on every other).
  const bool unnamed =
      method != m || (!in(m, kMethods) && (rules[0] == nullptr || rules[0]->method != m));
  if ((method_override_ && m == "POST") || unnamed) {
    // Rack takes GET, HEAD, OPTIONS and more from `_method`; Express and Symfony any method,
    // the WebDAV ones a rule may name included (a review).
    for (const std::string_view tunnelled : kMethods)
      rules[count++] = matchRoute(tunnelled, normalized_path);
    for (const std::string_view tunnelled : kWebDavMethods)
      rules[count++] = matchRoute(tunnelled, normalized_path);
  } else if ((rules[0] == nullptr || rules[0]->method == "*") && m != "GET" && m != "HEAD") {
    // An HTTP method no rule of the path names (a PUT where only a GET rule, and maybe a `*`
    // rule, matches) meets the GET rule too: the same application serves its GET for it (an
    // outside attack: PUT, DELETE, PATCH and OPTIONS passed a GET-only rule; a review: and with
    // a catch-all `*` rule after it).
    rules[count++] = matchRoute("GET", normalized_path);
  }
  std::optional<RouteRequirement> out;
  for (std::size_t i = 0; i < count; ++i) {
    const RouteRule* rule = rules[i];
    if (rule == nullptr || std::find(rules.begin(), rules.begin() + i, rule) != rules.begin() + i)
      continue;  // no rule, or one already joined
    if (!out) out.emplace();
    for (const auto& p : rule->permissions) {
      if (std::find(out->permissions.begin(), out->permissions.end(), p) == out->permissions.end())
        out->permissions.push_back(p);
    }
    out->mfa = out->mfa || rule->mfa;
  }
  return out;
}

const Policy::RouteRule* Policy::matchRoute(std::string_view method,
                                            std::string_view normalized_path) const {
  const std::string m = upper(method);
  for (const auto& rule : routes_) {
    // A GET rule also covers HEAD: applications answer HEAD with their GET handler.
    if (rule.method != "*" && rule.method != m && !(rule.method == "GET" && m == "HEAD")) continue;
    bool hit = false;
    if (!rule.prefix) {
      hit = normalized_path == rule.base;
    } else if (rule.segment_prefix) {
      hit = rule.base == "/" || normalized_path == rule.base ||
            (normalized_path.starts_with(rule.base) && normalized_path.size() > rule.base.size() &&
             normalized_path[rule.base.size()] == '/');
    } else {
      hit = normalized_path.starts_with(rule.base);
    }
    if (hit) return &rule;
  }
  return nullptr;
}

core::Result<Policy> Policy::loadFile(const std::filesystem::path& path) {
  auto text = core::readSmallFile(path, kMaxPolicyFileBytes);
  if (!text) return makeError(Errc::InvalidArgument, text.error().message);
  auto policy = fromJson(*text);
  if (!policy)
    return makeError(Errc::InvalidArgument, path.string() + ": " + policy.error().message);
  return policy;
}

bool Policy::hasRole(std::string_view role) const { return roles_.find(role) != roles_.end(); }

bool Policy::hasPermission(std::string_view permission) const {
  return std::binary_search(all_.begin(), all_.end(), permission);
}

const std::vector<std::string>& Policy::permissionsOf(std::string_view role) const {
  static const std::vector<std::string> kNone;
  const auto it = roles_.find(role);
  return it == roles_.end() ? kNone : it->second;
}

std::vector<std::string> Policy::roles() const {
  std::vector<std::string> out;
  for (const auto& [name, perms] : roles_) out.push_back(name);
  return out;
}

std::vector<std::string> effectivePermissions(const std::vector<std::string>& role_permissions,
                                              const std::vector<std::string>& scopes) {
  std::vector<std::string> out;
  for (const auto& p : role_permissions) {
    if (std::find(scopes.begin(), scopes.end(), p) != scopes.end()) out.push_back(p);
  }
  return out;
}

bool allowsAny(const std::vector<std::string>& granted, std::span<const std::string_view> any) {
  return std::any_of(any.begin(), any.end(), [&](std::string_view p) {
    return std::find(granted.begin(), granted.end(), p) != granted.end();
  });
}

bool allows(const std::vector<std::string>& granted, const std::vector<std::string>& required) {
  return std::all_of(required.begin(), required.end(), [&](const std::string& r) {
    return std::find(granted.begin(), granted.end(), r) != granted.end();
  });
}

}  // namespace gatehouse::rbac
