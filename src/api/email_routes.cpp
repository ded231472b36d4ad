// The email flows (API.md, Email): forgot and reset password, email verification, email change.
// Links carry their token in the fragment of a page (/ui/...); only these POSTs spend it.
#include "api/body.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/validation.hpp"

namespace gatehouse::api {
namespace {

using http::Lane;

constexpr const char* kForgotMessage = "If that account exists, we have sent instructions";

// The flows are built only when the server has a mail service; a missing one is a 503 like any
// unconfigured mail.
http::Response notConfigured(const http::Request& r) {
  return errorResponse({auth::Errc::MailNotConfigured, {}, {}, 0}, r);
}

http::Response forgot(Call& c) {
  Body& body = *c.body;
  body.forbidOthers({"email"});
  const std::string email = body.requiredString("email");
  if (body.ok()) {
    if (auto p = auth::emailProblem(email); !p.empty())
      body.errors().push_back({{"body", "email"}, p, "value_error.email"});
  }
  if (!body.ok()) return validationError(body.errors());
  // A full queue answers before the limits count: a caller told to retry keeps its budget.
  if (c.services.email != nullptr) {
    if (auto room = c.services.email->forgotHasRoom(clientOf(c.request)); !room)
      return errorResponse(room.error(), c.request);
  }
  if (auto refused = c.admit()) return std::move(*refused);
  if (c.services.email == nullptr) return notConfigured(c.request);
  if (auto ok = c.services.email->forgot(email, clientOf(c.request)); !ok)
    return errorResponse(ok.error(), c.request);
  return http::Response::json(202, boost::json::object{{"message", kForgotMessage}});
}

http::Response reset(Call& c) {
  Body& body = *c.body;
  body.forbidOthers({"token", "new_password"});
  const std::string token = body.requiredString("token");
  const std::string password = body.requiredString("new_password");
  if (!body.ok()) return validationError(body.errors());
  if (auto problems = c.services.passwords.newPasswordProblems(password, "new_password");
      !problems.empty()) {
    return validationError(problems);
  }
  if (auto refused = c.admit()) return std::move(*refused);
  if (c.services.email == nullptr) return notConfigured(c.request);
  auto user = c.services.email->resetPassword(token, password, clientOf(c.request));
  if (!user) return errorResponse(user.error(), c.request);
  // Whoever reads the mailbox could reset it: the owner hears of it, as of any password change.
  c.notify(*user, mail::Notice::PasswordChanged);
  return http::Response::json(200, boost::json::object{{"message", "Password has been reset"}});
}

http::Response requestVerification(Call& c) {
  if (auto refused = c.admit()) return std::move(*refused);
  if (c.services.email == nullptr) {
    if (c.who->user->email_verified) {
      return errorResponse({auth::Errc::EmailAlreadyVerified, {}, {}, 0}, c.request);
    }
    return notConfigured(c.request);
  }
  if (auto ok = c.services.email->requestVerification(*c.who, clientOf(c.request)); !ok)
    return errorResponse(ok.error(), c.request);
  return http::Response::json(202, boost::json::object{{"message", "Verification email sent"}});
}

// The token-spending calls: {token} → the user as changed.
template <auto Spend>
http::Response spend(Call& c) {
  Body& body = *c.body;
  body.forbidOthers({"token"});
  const std::string token = body.requiredString("token");
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);
  if (c.services.email == nullptr) return notConfigured(c.request);
  auto user = (c.services.email->*Spend)(token, clientOf(c.request));
  if (!user) return errorResponse(user.error(), c.request);
  return http::Response::json(200, userJson(*user));
}

http::Response requestChange(Call& c) {
  Body& body = *c.body;
  body.forbidOthers({"new_email"});
  const std::string new_email = body.requiredString("new_email");
  if (!body.ok()) return validationError(body.errors());
  if (c.services.email == nullptr) return notConfigured(c.request);
  if (auto problems = c.services.email->newEmailProblems(*c.who, new_email); !problems.empty())
    return validationError(problems);
  if (auto refused = c.admit()) return std::move(*refused);
  if (auto ok = c.services.email->requestEmailChange(*c.who, new_email, clientOf(c.request)); !ok)
    return errorResponse(ok.error(), c.request);
  return http::Response::json(
      202, boost::json::object{{"message", "Confirmation sent to the new address"}});
}

const RateLimitRule kTokenLimit{"EMAIL_TOKEN_RATE_LIMIT", "email-token", {LimitKey::ClientAddress}};
const RateLimitRule kAccountMailLimit{"EMAIL_RATE_LIMIT", "email-send", {LimitKey::User}};
// While the account's address is unverified, also on a budget of its mailbox: accounts at
// spellings of a stranger's address each asking for verification mails or changing their address
// (its notice goes to the old one) bombed that mailbox, five an hour each (found by an outside
// attack). A counter of its own: on forgot's, anyone's five forgot requests an hour kept an
// unverified owner from verifying (a review).
const RateLimitRule kOwnMailboxLimit{
    "EMAIL_RATE_LIMIT", "email-own", {LimitKey::OwnUnverifiedMailbox}};
const Reply kBadToken{400, "Invalid or expired token", "ErrorDetail"};
const Reply kNoMail{503, "Email delivery is not configured (neither SMTP_URL nor MAIL_FILE)",
                    "ErrorDetail"};

}  // namespace

// The handlers the pages run for their forms (handlers.hpp).
namespace handlers {
http::Response requestVerification(Call& c) { return api::requestVerification(c); }
http::Response requestEmailChange(Call& c) { return api::requestChange(c); }
}  // namespace handlers

const RateLimitRule& emailTokenLimit() { return kTokenLimit; }

void addEmailRoutes(RouteTable& t) {
  t.add({.method = "POST",
         .path = "/api/v1/auth/password/forgot",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Ask for a password reset link by email",
         .tag = "email",
         .description =
             "Always the same 202 for known and unknown addresses, in the same time: the lookup "
             "and the mail happen after the answer (503 Server busy, with Retry-After, for every "
             "address alike while the queue of those waiting is full). A known, active account "
             "gets a link to "
             "<GATEHOUSE_PUBLIC_URL>/ui/reset-password#token=... (or PASSWORD_RESET_URL), valid "
             "PASSWORD_RESET_TTL_SECONDS (15 minutes). Accounts created by external sign-in set a "
             "first password this way.",
         .body = BodyKind::Json,
         .body_schema = "ForgotPasswordRequest",
         .replies = {{202, kForgotMessage, "Message"},
                     {503,
                      "Email delivery is not configured; or Server busy, retry shortly "
                      "(Retry-After) while the queue of requests waiting for their lookup is full",
                      "ErrorDetail"}},
         .limits = {{"EMAIL_IP_RATE_LIMIT", "forgot", {LimitKey::ClientAddress}},
                    {"EMAIL_RATE_LIMIT", "email-send", {LimitKey::EmailAddress}}},
         .handler = forgot});
  t.add({.method = "POST",
         .path = "/api/v1/auth/password/reset",
         .credential = Credential::None,
         .lane = Lane::Hashing,
         .summary = "Set a new password with the emailed token",
         .tag = "email",
         .description =
             "Spends the token (single use on every node). Every session and API key of the "
             "account ends, its passkeys are kept as second factors only and its linked identities "
             "removed (a first password keeps those whose provider verified the account's "
             "address), the login lockout is cleared and the email counts as verified. A new "
             "password failing the policy (422) does not spend the token.",
         .body = BodyKind::Json,
         .body_schema = "ResetPasswordRequest",
         .replies = {{200, "Password has been reset", "Message"}, kBadToken},
         .limits = {kTokenLimit},
         .handler = reset});
  t.add({.method = "POST",
         .path = "/api/v1/auth/email/verify/request",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .summary = "Mail a verification link to the caller's address",
         .tag = "email",
         .description = "The link is <GATEHOUSE_PUBLIC_URL>/ui/verify-email#token=..., valid "
                        "EMAIL_VERIFICATION_TTL_SECONDS (24 hours).",
         .replies = {{202, "Verification email sent", "Message"},
                     {409, "Email already verified", "ErrorDetail"},
                     {422,
                      "The account's address is a placeholder (external sign-in without a "
                      "verified address): change the email instead",
                      "HTTPValidationError"},
                     kNoMail},
         // Per client address too, on a counter of its own, and first (refused there, the
         // account's budgets are not spent): accounts registered from one address each sent
         // five an hour to addresses of their choosing, 21,600 mails an hour after a day of
         // registrations (an outside attack).
         .limits = {{"EMAIL_IP_RATE_LIMIT", "verify-request", {LimitKey::ClientAddress}},
                    kAccountMailLimit,
                    kOwnMailboxLimit},
         .handler = requestVerification});
  t.add({.method = "POST",
         .path = "/api/v1/auth/email/verify",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Verify the email with the emailed token",
         .tag = "email",
         .body = BodyKind::Json,
         .body_schema = "EmailTokenRequest",
         .replies = {{200, "The user, email_verified true", "User"}, kBadToken},
         .limits = {kTokenLimit},
         .handler = spend<&mail::EmailFlows::verifyEmail>});
  t.add({.method = "POST",
         .path = "/api/v1/auth/email/change",
         .credential = Credential::UserToken,
         .lane = Lane::Storage,
         .step_up = true,
         .summary = "Change the email: a confirmation to the new address, a notice to the old",
         .tag = "email",
         .description =
             "The address changes only when the link mailed to it is used "
             "(<GATEHOUSE_PUBLIC_URL>/ui/confirm-email#token=..., EMAIL_CHANGE_TTL_SECONDS). The "
             "answer is the same whether or not the address is taken; that is told only at "
             "confirmation (409).",
         .body = BodyKind::Json,
         .body_schema = "EmailChangeRequest",
         .replies = {{202, "Confirmation sent to the new address", "Message"}, kNoMail},
         // Per account, per recipient like forgot, and per client address: free accounts cannot
         // bomb one mailbox, however its address is spelled.
         .limits = {kAccountMailLimit,
                    kOwnMailboxLimit,
                    {"EMAIL_IP_RATE_LIMIT", "email-change", {LimitKey::ClientAddress}},
                    {"EMAIL_RATE_LIMIT", "email-send", {LimitKey::EmailAddress}}},
         .handler = requestChange});
  t.add({.method = "POST",
         .path = "/api/v1/auth/email/change/confirm",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Confirm an email change with the token mailed to the new address",
         .tag = "email",
         .body = BodyKind::Json,
         .body_schema = "EmailTokenRequest",
         .replies = {{200, "The user with the new, verified email", "User"},
                     kBadToken,
                     {409, "Email already registered", "ErrorDetail"}},
         .limits = {kTokenLimit},
         .handler = spend<&mail::EmailFlows::confirmEmailChange>});
}

}  // namespace gatehouse::api
