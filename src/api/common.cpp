#include <array>
#include <charconv>
#include <ctime>

#include "api/body.hpp"
#include "api/services.hpp"
#include "core/ascii.hpp"
#include "core/base64url.hpp"
#include "core/log.hpp"

namespace gatehouse::api {

using auth::Errc;

tl::expected<std::int64_t, http::Response> pathId(const http::Request& request,
                                                  const std::string& name) {
  std::int64_t id = 0;
  const std::string& text = request.path_params.at(name);
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || ptr != text.data() + text.size()) {
    return tl::unexpected(
        validationError({{{"path", name}, "value is not a valid integer", "type_error.integer"}}));
  }
  return id;
}

auth::ClientInfo clientOf(const http::Request& r) {
  return {r.client_ip.empty() ? r.peer_ip : r.client_ip,
          std::string(r.header("user-agent").value_or("")),
          r.request_id,
          "",
          r.api_key_id != 0 ? std::optional(r.api_key_id) : std::nullopt,
          r.op_client_id};
}

namespace {

// 401 with its challenge (RFC 9110 §15.5.2); `refused` when a credential was presented and
// refused (RFC 6750 §3's invalid_token).
http::Response unauthorized(std::string_view message, bool refused) {
  auto r = http::Response::detail(401, message);
  r.set("WWW-Authenticate", refused ? "Bearer error=\"invalid_token\"" : "Bearer");
  return r;
}

}  // namespace

auth::Error withStepUpAge(const Call& c, auth::Error error) {
  if (error.code == auth::Errc::StepUpRequired && error.retry_after == 0)
    error.retry_after = c.services.step_up_max_age;
  return error;
}

http::Response errorResponse(const auth::Error& error, const http::Request& request) {
  if (!error.detail.empty()) {
    spdlog::info("request_id={} auth_failure code={} detail={}", request.request_id,
                 static_cast<int>(error.code), error.detail);
  }
  switch (error.code) {
    case Errc::InvalidCredentials:
      return unauthorized("Incorrect email or password", false);
    case Errc::AccountDisabled:
      return http::Response::detail(403, "Account is deactivated");
    case Errc::InvalidRefreshToken:
      return unauthorized("Invalid refresh token", false);
    case Errc::RefreshUserInactive:
      return unauthorized("User not found or inactive", false);
    case Errc::NotAuthenticated:
      return unauthorized("Not authenticated", false);
    case Errc::InvalidToken:
      return unauthorized("Could not validate credentials", true);
    case Errc::InvalidApiKey:
      return unauthorized("Invalid API key", true);
    case Errc::ApiKeyLimit:
      return http::Response::detail(409, "API key limit reached");
    case Errc::NotFound:
      return http::Response::detail(404, "Not Found");
    case Errc::InvalidExchangeCode:
      return http::Response::detail(400, "Invalid or expired code");
    case Errc::IdentityNotFound:
      return http::Response::detail(404, "Identity not found");
    case Errc::LastSignInMethod:
      return http::Response::detail(409, "Cannot remove the last way to sign in");
    case Errc::InvalidMfaCode:
      return unauthorized("Invalid code", false);
    case Errc::WrongConfirmationCode:
      return http::Response::detail(400, "Invalid code");
    case Errc::InvalidPasskey:
      return unauthorized("Invalid passkey", false);
    case Errc::PasskeyRejected:
      return http::Response::detail(400, "Invalid passkey");
    case Errc::FactorNotFound:
      return http::Response::detail(404, "Factor not found");
    case Errc::FactorLimit:
      return http::Response::detail(409, "Factor limit reached");
    case Errc::StepUpRequired: {
      // RFC 9470 §3: the client re-authenticates (POST /auth/reauthenticate) and retries.
      auto r = http::Response::detail(401, "Step-up authentication required");
      r.set("WWW-Authenticate",
            "Bearer error=\"insufficient_user_authentication\", error_description=\"A recent "
            "sign-in with the second factor is required\", max_age=" +
                std::to_string(error.retry_after));
      return r;
    }
    case Errc::MfaEnrolmentRequired:
      return http::Response::detail(403, "MFA enrolment required");
    case Errc::EmailNotVerified:
      return http::Response::detail(403, "Email not verified");
    case Errc::InvalidEmailToken:
      return http::Response::detail(400, "Invalid or expired token");
    case Errc::EmailAlreadyVerified:
      return http::Response::detail(409, "Email already verified");
    case Errc::MailNotConfigured: {
      spdlog::warn(
          "request_id={} a flow needing mail was asked for, but neither SMTP_URL nor "
          "MAIL_FILE is set",
          request.request_id);
      return http::Response::detail(503, "Email delivery is not configured");
    }
    case Errc::RegistrationDisabled:
      return http::Response::detail(403, "Registration is disabled");
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
      spdlog::error("request_id={} unavailable: {}", request.request_id, error.detail);
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
    case Errc::ApiKeyNotFound:
      return http::Response::detail(404, "API key not found");
    case Errc::WouldBlock:  // handled by the middleware (a worker finishes): never reaches here
    case Errc::Internal:
      break;
  }
  spdlog::error("request_id={} internal error: {}", request.request_id, error.detail);
  return http::Response::detail(500, "Internal Server Error");
}

OriginalRequestHeaders originalRequestHeaders(config::ForwardAuthProxy proxy) {
  if (proxy == config::ForwardAuthProxy::Nginx)
    return {"x-original-method", "x-original-uri", "x-forwarded-method", "x-forwarded-uri"};
  return {"x-forwarded-method", "x-forwarded-uri", "x-original-method", "x-original-uri"};
}

std::optional<std::string_view> authorizationCredentials(std::string_view header,
                                                         std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ' ||
      !core::equalsIgnoringCase(header.substr(0, scheme.size()), scheme))
    return std::nullopt;
  std::string_view value = header.substr(scheme.size() + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return value;
}

Credentials headerCredentials(const http::Request& request) {
  if (const auto header = request.header("authorization")) {
    if (const auto value = authorizationCredentials(*header, "bearer")) {
      if (value->starts_with(auth::kApiKeyPrefix))
        return {Credentials::Kind::ApiKey, *value, std::nullopt};
      return {Credentials::Kind::Token, *value, std::nullopt};
    }
    if (const auto value = authorizationCredentials(*header, "basic")) {
      // For tools that only speak Basic: the password is the API key, the user name is ignored.
      if (auto decoded = core::base64Decode(*value)) {
        if (const auto colon = decoded->find(':'); colon != std::string::npos) {
          return {Credentials::Kind::ApiKey, {}, decoded->substr(colon + 1)};
        }
      }
      return {Credentials::Kind::Invalid, {}, std::nullopt};
    }
  }
  if (const auto key = request.header("x-api-key"))
    return {Credentials::Kind::ApiKey, *key, std::nullopt};
  return {Credentials::Kind::None, {}, std::nullopt};
}

Credentials addressCredentials(const http::Request& request, std::string_view original_uri_header) {
  if (auto key = request.queryParam("api_key"))
    return {Credentials::Kind::ApiKey, {}, std::move(*key)};
  if (!original_uri_header.empty()) {
    // A proxy's auth subrequest does not forward the query; the original URI carries it. Only
    // the configured proxy's header is read, never whichever the client sent.
    if (const auto uri = request.header(original_uri_header)) {
      if (const auto q = uri->find('?'); q != std::string_view::npos) {
        http::Request original;
        original.query = std::string(uri->substr(q + 1));
        if (auto key = original.queryParam("api_key"))
          return {Credentials::Kind::ApiKey, {}, std::move(*key)};
      }
    }
  }
  return {Credentials::Kind::None, {}, std::nullopt};
}

Credentials credentialsOf(const http::Request& request, std::string_view original_uri_header) {
  Credentials found = headerCredentials(request);
  if (found.kind != Credentials::Kind::None) return found;
  return addressCredentials(request, original_uri_header);
}

std::optional<std::int64_t> queryInteger(const http::Request& request, const char* name,
                                         std::int64_t min, std::int64_t max,
                                         std::optional<std::int64_t> fallback,
                                         std::vector<auth::FieldError>& errors) {
  const auto text = request.queryParam(name);
  if (!text) return fallback;
  std::int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc{} || ptr != text->data() + text->size()) {
    errors.push_back({{"query", name}, "value is not a valid integer", "type_error.integer"});
    return std::nullopt;
  }
  if (n < min || n > max) {
    errors.push_back(
        {{"query", name},
         "ensure this value is between " + std::to_string(min) + " and " + std::to_string(max),
         "value_error.number.not_in_range"});
    return std::nullopt;
  }
  return n;
}

std::optional<http::Response> requirePermissions(const auth::Principal& who,
                                                 const std::vector<std::string>& permissions,
                                                 const http::Request& request) {
  if (rbac::allows(who.permissions, permissions)) return std::nullopt;
  return errorResponse(
      {Errc::Forbidden, "missing permission for user " + std::to_string(who.user->id), {}},
      request);
}

boost::json::object userJson(const store::User& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"username", u.username},
          {"role", u.role},
          {"is_active", u.is_active},
          {"created_at", rfc3339(u.created_at)},
          {"mfa_enabled", u.mfa_enabled},
          {"email_verified", u.email_verified}};
}

http::Response mfaRequired(mfa::MfaService& mfa, const auth::SignedIn& who,
                           const auth::ClientInfo& client, const http::Request& request) {
  auto token = mfa.challenge(who, client);
  if (!token) return errorResponse(token.error(), request);
  boost::json::array methods;
  for (auto& m : mfa.methods(who.user.id)) methods.emplace_back(std::move(m));
  auto res = http::Response::json(
      401, boost::json::object{
               {"detail", "MFA required"}, {"mfa_token", *token}, {"methods", std::move(methods)}});
  res.set("WWW-Authenticate", "Bearer");
  return noStore(std::move(res));
}

http::Response noStore(http::Response response) {
  response.set("Cache-Control", "no-store");
  response.set("Pragma", "no-cache");
  return response;
}

http::Response tokenResponse(int status, const auth::TokenPair& pair) {
  return noStore(
      http::Response::json(status, boost::json::object{{"access_token", pair.access_token},
                                                       {"refresh_token", pair.refresh_token},
                                                       {"token_type", "bearer"},
                                                       {"expires_in", pair.expires_in}}));
}

auth::Actor actorOf(Call& c) {
  return {c.who->user->id, c.who->permissions, [&c] {
            return c.spend("REFUSED_CHANGE_RATE_LIMIT",
                           "refused-change:" + std::to_string(c.who->user->id), "refused-change");
          }};
}

std::optional<http::Response> refusedOnOwnAccount(const Call& c, std::int64_t target,
                                                  std::string_view what) {
  if (c.who == nullptr || c.who->user->id != target) return std::nullopt;
  return errorResponse(
      {auth::Errc::Forbidden,
       std::string(what) + " of one's own account, through an administrator's route",
       {},
       0},
      c.request);
}

}  // namespace gatehouse::api
