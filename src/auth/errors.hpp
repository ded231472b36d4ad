#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "core/error.hpp"

namespace gatehouse::auth {

// What went wrong, in the contract's terms. api/ maps each to one status and message
// (API.md); `detail` is for the log only.
enum class Errc {
  InvalidCredentials,     // 401 Incorrect email or password
  AccountDisabled,        // 403 Account is deactivated (after a correct password)
  InvalidRefreshToken,    // 401 Invalid refresh token
  RefreshUserInactive,    // 401 User not found or inactive
  NotAuthenticated,       // 401 Not authenticated (no credentials)
  InvalidToken,           // 401 Could not validate credentials
  InactiveUser,           // 403 Inactive user
  Forbidden,              // 403 Insufficient permissions
  EmailTaken,             // 409 Email already registered
  UsernameTaken,          // 409 Username already taken
  UserNotFound,           // 404 User not found
  LastAdmin,              // 409 cannot remove or demote the last active admin
  Validation,             // 422 with field errors
  Overloaded,             // 503 with Retry-After (hashing queue full)
  RateLimited,            // 429 Too many requests, with Retry-After
  SessionNotFound,        // 404 Session not found
  WrongPassword,          // 400 Incorrect password (password change)
  ApiKeyNotFound,         // 404 API key not found
  InvalidApiKey,          // 401 Invalid API key (the seed's /external-data)
  ApiKeyLimit,            // 409 API key limit reached
  RegistrationDisabled,   // 403 Registration is disabled
  NotFound,               // 404 Not Found (an unknown provider)
  InvalidExchangeCode,    // 400 Invalid or expired code (external sign-in's one-time code)
  IdentityNotFound,       // 404 Identity not found
  LastSignInMethod,       // 409 Cannot remove the last way to sign in
  InvalidMfaCode,         // 401 Invalid code (the second step of a sign-in, reauthentication)
  WrongConfirmationCode,  // 400 Invalid code (confirming a new factor)
  FactorNotFound,         // 404 Factor not found
  FactorLimit,            // 409 Factor limit reached
  StepUpRequired,         // 401 Step-up authentication required, RFC 9470's challenge
  MfaEnrolmentRequired,   // 403 MFA enrolment required (MFA_REQUIRED_ROLES)
  EmailNotVerified,       // 403 Email not verified (EMAIL_VERIFICATION=required, after the proof)
  InvalidPasskey,         // 401 Invalid passkey (a passkey sign-in or reauthentication refused)
  PasskeyRejected,        // 400 Invalid passkey (a registration refused)
  InvalidEmailToken,      // 400 Invalid or expired token (reset, verification, email change)
  EmailAlreadyVerified,   // 409 Email already verified
  MailNotConfigured,      // 503 Email delivery is not configured
  WouldBlock,             // not an answer: retry the request on a worker thread
  Unavailable,            // 503 (storage down)
  Internal,               // 500
};

// FastAPI's validation error item: {"loc": [...], "msg": ..., "type": ...}.
struct FieldError {
  std::vector<std::string> loc;
  std::string msg;
  std::string type;
};

struct Error {
  Errc code;
  std::string detail;              // logs only
  std::vector<FieldError> fields;  // for Validation
  std::int64_t retry_after = 0;    // RateLimited: seconds; StepUpRequired: the max_age
};

template <class T>
using Result = tl::expected<T, Error>;

// A storage error as the service answers it: WouldBlock and Unavailable pass through (503 or a
// retry on a worker), anything else is Internal. The detail stays for the log.
inline Error storeFailure(const core::Error& e) {
  const Errc code = e.code == core::Errc::WouldBlock    ? Errc::WouldBlock
                    : e.code == core::Errc::Unavailable ? Errc::Unavailable
                                                        : Errc::Internal;
  return Error{code, e.message, {}, 0};
}

inline tl::unexpected<Error> fail(Errc code, std::string detail = {}) {
  return tl::unexpected(Error{code, std::move(detail), {}});
}

}  // namespace gatehouse::auth
