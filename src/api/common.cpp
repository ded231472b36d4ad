#include <ctime>

#include <spdlog/spdlog.h>

#include "api/body.hpp"
#include "api/services.hpp"

namespace gatehouse::api {

using auth::Errc;

auth::ClientInfo clientOf(const http::Request& r) {
  return {r.client_ip.empty() ? r.peer_ip : r.client_ip,
          std::string(r.header("user-agent").value_or("")), r.request_id};
}

http::Response errorResponse(const auth::Error& error, const http::Request& request) {
  if (!error.detail.empty()) {
    spdlog::info("request_id={} auth_failure code={} detail={}", request.request_id,
                 static_cast<int>(error.code), error.detail);
  }
  switch (error.code) {
    case Errc::InvalidCredentials: {
      auto r = http::Response::detail(401, "Incorrect email or password");
      r.set("WWW-Authenticate", "Bearer");
      return r;
    }
    case Errc::AccountDisabled:
      return http::Response::detail(403, "Account is deactivated");
    case Errc::InvalidRefreshToken:
      return http::Response::detail(401, "Invalid refresh token");
    case Errc::RefreshUserInactive:
      return http::Response::detail(401, "User not found or inactive");
    case Errc::NotAuthenticated: {
      auto r = http::Response::detail(401, "Not authenticated");
      r.set("WWW-Authenticate", "Bearer");
      return r;
    }
    case Errc::InvalidToken: {
      auto r = http::Response::detail(401, "Could not validate credentials");
      r.set("WWW-Authenticate", "Bearer");
      return r;
    }
    case Errc::InactiveUser:
      return http::Response::detail(403, "Inactive user");
    case Errc::Forbidden:
      return http::Response::detail(403, "Insufficient permissions");
    case Errc::EmailTaken:
      return http::Response::detail(409, "Email already registered");
    case Errc::UsernameTaken:
      return http::Response::detail(409, "Username already taken");
    case Errc::UserNotFound:
      return http::Response::detail(404, "User not found");
    case Errc::LastAdmin:
      return http::Response::detail(409,
                                    "Cannot remove, deactivate or demote the last active admin");
    case Errc::Validation:
      return validationError(error.fields);
    case Errc::Overloaded: {
      auto r = http::Response::detail(503, "Server busy, retry shortly");
      r.set("Retry-After", "1");
      return r;
    }
    case Errc::Unavailable: {
      spdlog::error("request_id={} storage unavailable: {}", request.request_id, error.detail);
      auto r = http::Response::detail(503, "Service Unavailable");
      r.set("Retry-After", "1");
      return r;
    }
    case Errc::RateLimited: {
      auto r = http::Response::detail(429, "Too many requests");
      r.set("Retry-After", std::to_string(std::max<std::int64_t>(1, error.retry_after)));
      return r;
    }
    case Errc::SessionNotFound:
      return http::Response::detail(404, "Session not found");
    case Errc::WrongPassword:
      return http::Response::detail(400, "Incorrect password");
    case Errc::Internal:
      break;
  }
  spdlog::error("request_id={} internal error: {}", request.request_id, error.detail);
  return http::Response::detail(500, "Internal Server Error");
}

tl::expected<auth::Principal, http::Response> authenticate(Services& s,
                                                           const http::Request& request) {
  const auto header = request.header("authorization");
  if (!header) return tl::unexpected(errorResponse({Errc::NotAuthenticated, {}, {}}, request));
  std::string_view value = *header;
  constexpr std::string_view kScheme = "bearer ";
  const bool bearer = value.size() > kScheme.size() &&
                      std::equal(kScheme.begin(), kScheme.end(), value.begin(), [](char a, char b) {
                        return a == std::tolower(static_cast<unsigned char>(b));
                      });
  // FastAPI's OAuth2PasswordBearer: a non-Bearer Authorization header counts as no credentials.
  if (!bearer) return tl::unexpected(errorResponse({Errc::NotAuthenticated, {}, {}}, request));
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  auto who = s.auth.authenticate(value);
  if (!who) return tl::unexpected(errorResponse(who.error(), request));
  return std::move(*who);
}

std::optional<http::Response> requirePermissions(const auth::Principal& who,
                                                 const std::vector<std::string>& permissions,
                                                 const http::Request& request) {
  if (rbac::allows(who.permissions, permissions)) return std::nullopt;
  return errorResponse(
      {Errc::Forbidden, "missing permission for user " + std::to_string(who.user.id), {}}, request);
}

boost::json::object userJson(const store::User& u) {
  std::tm tm{};
  const auto t = static_cast<std::time_t>(u.created_at);
  gmtime_r(&t, &tm);
  char created[32];
  std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {{"id", u.id},     {"email", u.email},         {"username", u.username},
          {"role", u.role}, {"is_active", u.is_active}, {"created_at", created}};
}

http::Response tokenResponse(int status, const auth::TokenPair& pair) {
  auto r = http::Response::json(status, boost::json::object{{"access_token", pair.access_token},
                                                            {"refresh_token", pair.refresh_token},
                                                            {"token_type", "bearer"},
                                                            {"expires_in", pair.expires_in}});
  r.set("Cache-Control", "no-store");
  r.set("Pragma", "no-cache");
  return r;
}

}  // namespace gatehouse::api
