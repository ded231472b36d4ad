// /api/v1/users (API.md, Users): every handler authenticates, then authorises in one line.
#include <charconv>

#include "api/body.hpp"
#include "api/services.hpp"

namespace gatehouse::api {
namespace {

// A non-negative integer query/path value; nullopt when absent, error item when malformed.
std::optional<std::int64_t> integerParam(const std::optional<std::string>& text, const char* where,
                                         const char* name, std::int64_t min, std::int64_t max,
                                         std::vector<auth::FieldError>& errors) {
  if (!text) return std::nullopt;
  std::int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc{} || ptr != text->data() + text->size()) {
    errors.push_back({{where, name}, "value is not a valid integer", "type_error.integer"});
    return std::nullopt;
  }
  if (n < min || n > max) {
    errors.push_back(
        {{where, name},
         "ensure this value is between " + std::to_string(min) + " and " + std::to_string(max),
         "value_error.number.not_in_range"});
    return std::nullopt;
  }
  return n;
}

auth::Actor actorOf(const auth::Principal& who) { return {who.user->id, who.permissions}; }

std::optional<std::int64_t> userId(const http::Request& r, std::vector<auth::FieldError>& errors) {
  auto id = integerParam(r.path_params.at("id"), "path", "id", 1, INT64_MAX, errors);
  return id;
}

http::Response list(Services& s, const http::Request& r) {
  auto who = authenticate(s, r);
  if (!who) return who.error();
  if (auto denied = requirePermissions(*who, {"users:read"}, r)) return *denied;
  std::vector<auth::FieldError> errors;
  const auto limit =
      integerParam(r.queryParam("limit"), "query", "limit", 1, 1000, errors).value_or(100);
  const auto offset =
      integerParam(r.queryParam("offset"), "query", "offset", 0, INT64_MAX, errors).value_or(0);
  if (!errors.empty()) return validationError(errors);
  auto page = s.users.list(limit, offset);
  if (!page) return errorResponse(page.error(), r);
  boost::json::array items;
  for (const auto& u : page->items) items.push_back(userJson(u));
  return http::Response::json(
      200, boost::json::object{{"items", std::move(items)}, {"total", page->total}});
}

http::Response get(Services& s, const http::Request& r) {
  auto who = authenticate(s, r);
  if (!who) return who.error();
  if (auto denied = requirePermissions(*who, {"users:read"}, r)) return *denied;
  std::vector<auth::FieldError> errors;
  const auto id = userId(r, errors);
  if (!id) return validationError(errors);
  auto user = s.users.get(*id);
  if (!user) return errorResponse(user.error(), r);
  return http::Response::json(200, userJson(*user));
}

http::Response patch(Services& s, const http::Request& r) {
  auto who = authenticate(s, r);
  if (!who) return who.error();
  if (auto denied = requirePermissions(*who, {"users:write"}, r)) return *denied;
  std::vector<auth::FieldError> errors;
  const auto id = userId(r, errors);
  Body body = Body::json(r);
  store::UserPatch p;
  p.email = body.optionalString("email");
  p.username = body.optionalString("username");
  p.is_active = body.optionalBool("is_active");
  errors.insert(errors.end(), body.errors().begin(), body.errors().end());
  if (!id || !errors.empty()) return validationError(errors);
  auto user = s.users.update(*id, p, actorOf(*who), clientOf(r));
  if (!user) return errorResponse(user.error(), r);
  return http::Response::json(200, userJson(*user));
}

http::Response remove(Services& s, const http::Request& r) {
  auto who = authenticate(s, r);
  if (!who) return who.error();
  if (auto denied = requirePermissions(*who, {"users:delete"}, r)) return *denied;
  std::vector<auth::FieldError> errors;
  const auto id = userId(r, errors);
  if (!id) return validationError(errors);
  if (auto ok = s.users.remove(*id, actorOf(*who), clientOf(r)); !ok)
    return errorResponse(ok.error(), r);
  return http::Response::empty(204);
}

http::Response setRole(Services& s, const http::Request& r) {
  auto who = authenticate(s, r);
  if (!who) return who.error();
  if (auto denied = requirePermissions(*who, {"roles:manage"}, r)) return *denied;
  std::vector<auth::FieldError> errors;
  const auto id = userId(r, errors);
  Body body = Body::json(r);
  const std::string role = body.requiredString("role");
  errors.insert(errors.end(), body.errors().begin(), body.errors().end());
  if (!id || !errors.empty()) return validationError(errors);
  auto user = s.users.setRole(*id, role, actorOf(*who), clientOf(r));
  if (!user) return errorResponse(user.error(), r);
  return http::Response::json(200, userJson(*user));
}

}  // namespace

void addUserRoutes(http::Router& router, Services& s) {
  router.add("GET", "/api/v1/users", [&s](http::Request& r) { return list(s, r); });
  router.add("GET", "/api/v1/users/{id}", [&s](http::Request& r) { return get(s, r); });
  router.add("PATCH", "/api/v1/users/{id}", [&s](http::Request& r) { return patch(s, r); });
  router.add("DELETE", "/api/v1/users/{id}", [&s](http::Request& r) { return remove(s, r); });
  router.add("PUT", "/api/v1/users/{id}/role", [&s](http::Request& r) { return setRole(s, r); });
}

}  // namespace gatehouse::api
