#include "auth/user_service.hpp"

#include "auth/validation.hpp"

namespace gatehouse::auth {
namespace {

Error fromStore(const core::Error& e) {
  switch (e.code) {
    case core::Errc::NotFound:
      return Error{Errc::UserNotFound, e.message, {}};
    case core::Errc::AlreadyExists:
      return Error{e.message == "username" ? Errc::UsernameTaken : Errc::EmailTaken, e.message, {}};
    case core::Errc::FailedPrecondition:
      return Error{Errc::LastAdmin, e.message, {}};
    case core::Errc::Unavailable:
      return Error{Errc::Unavailable, e.message, {}};
    default:
      return Error{Errc::Internal, e.message, {}};
  }
}

}  // namespace

Result<UserPage> UserService::list(std::int64_t limit, std::int64_t offset) {
  auto items = store_.users().list(limit, offset);
  if (!items) return tl::unexpected(fromStore(items.error()));
  auto total = store_.users().count();
  if (!total) return tl::unexpected(fromStore(total.error()));
  return UserPage{std::move(*items), *total};
}

Result<store::User> UserService::get(std::int64_t id) {
  auto user = store_.users().findById(id);
  if (!user) return tl::unexpected(fromStore(user.error()));
  if (!*user) return fail(Errc::UserNotFound);
  return std::move(**user);
}

Result<store::User> UserService::update(std::int64_t id, const store::UserPatch& patch) {
  std::vector<FieldError> errors;
  if (patch.email) {
    if (auto p = emailProblem(*patch.email); !p.empty())
      errors.push_back({{"body", "email"}, p, "value_error.email"});
  }
  if (patch.username) {
    if (auto p = usernameProblem(*patch.username); !p.empty()) {
      errors.push_back({{"body", "username"}, p, "value_error.username"});
    }
  }
  if (!errors.empty())
    return tl::unexpected(Error{Errc::Validation, "user patch", std::move(errors)});
  return apply(id, patch);
}

Result<store::User> UserService::setRole(std::int64_t id, const std::string& role) {
  if (!policy_.hasRole(role)) {
    return tl::unexpected(Error{Errc::Validation,
                                "unknown role",
                                {{{"body", "role"}, "Unknown role: " + role, "value_error.role"}}});
  }
  store::UserPatch patch;
  patch.role = role;
  return apply(id, patch);
}

Result<store::User> UserService::apply(std::int64_t id, const store::UserPatch& patch) {
  auto user = store_.users().update(id, patch, rbac::kAdminRole);
  if (!user) return tl::unexpected(fromStore(user.error()));
  if (patch.is_active && !*patch.is_active) {
    // A deactivated account's refresh tokens stop working at once.
    (void)store_.sessions().revokeAllForUser(id);
  }
  return std::move(*user);
}

Result<void> UserService::remove(std::int64_t id) {
  if (auto ok = store_.users().remove(id, rbac::kAdminRole); !ok)
    return tl::unexpected(fromStore(ok.error()));
  return {};
}

}  // namespace gatehouse::auth
