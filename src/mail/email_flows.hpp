#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/api_keys.hpp"
#include "auth/client_info.hpp"
#include "auth/errors.hpp"
#include "auth/passwords.hpp"
#include "auth/principal.hpp"
#include "auth/rate_check.hpp"
#include "auth/session_end.hpp"
#include "auth/user_cache.hpp"
#include "core/clock.hpp"
#include "core/failure_log.hpp"
#include "mail/background.hpp"
#include "mail/outbox.hpp"
#include "mail/templates.hpp"
#include "metrics/metrics.hpp"
#include "state/limits.hpp"
#include "store/store.hpp"

namespace gatehouse::mail {

struct FlowSettings {
  std::string public_url;                // links are built from this only, never from a request
  std::optional<std::string> reset_url;  // PASSWORD_RESET_URL
  std::string brand = "Gatehouse";
  std::int64_t reset_ttl = 15 * 60;
  std::int64_t verification_ttl = 24 * 3600;
  std::int64_t change_ttl = 24 * 3600;
  std::string token_key;  // 32 bytes: the keyed digest tokens are stored as
};

// The email flows of API.md ("Email"): password reset, email verification and email change.
// Tokens are 256 random bits sent in a link's fragment (#token=, never seen by servers or
// scanners on the way), stored only as an HMAC under the server's key, single use on every node
// (the store deletes them compare-and-set), and short-lived. Each mail is written to the outbox
// in the same transaction as the token it carries. Runs on workers. Thread-safe.
// The notices an account's address gets when its ways in change, each by a template of its name
// (noticeName). Whoever holds a stolen session (within the step-up window) could otherwise add a
// way in that outlives a password change (a passkey), lock the owner out (an authenticator app,
// or new recovery codes that void the owner's), weaken the account (a factor removed) or take
// it (the password), and the owner would hear nothing.
enum class Notice {
  PasskeyAdded,
  TotpAdded,
  RecoveryCodesReplaced,
  FactorRemoved,
  PasswordChanged,
  IdentityLinked,
  SecondFactorFailures,
  SecondFactorLocked,
  EmailChanged  // by an administrator: to the address it was changed from
};

// "passkey-added", "totp-added", "recovery-codes-replaced", "factor-removed", "password-changed",
// "identity-linked", "second-factor-failures", "second-factor-locked", "email-changed".
std::string_view noticeName(Notice kind);

class EmailFlows {
 public:
  struct Deps {
    store::Store& store;
    auth::PasswordService& passwords;
    auth::ApiKeyService& api_keys;
    auth::UserCache& users;
    auth::SessionEnd& end;
    state::LoginGuard& guard;
    Outbox& outbox;
    const Templates& templates;
    Background& background;
    audit::AuditLog& audit;
    metrics::Registry& metrics;
    const core::Clock& clock;
    FlowSettings settings;
  };
  explicit EmailFlows(Deps deps) : d_(std::move(deps)) {}

  bool configured() const { return d_.outbox.configured(); }

  // For registration with verification on: writes the user with its verification token and
  // mail in one transaction.
  auth::UserCreator registration(const auth::ClientInfo& client);

  // Forgot password: MailNotConfigured, else nothing more is said. The lookup and the mail
  // happen after the response, at a moment the Background spreads (known and unknown addresses
  // answer alike, in the same time, and the same token and message are made for both); only a
  // known, active account gets a link.
  // Overloaded (503) when the queue of requests waiting for their lookup is full, whatever the
  // address: never a 202 for a request dropped.
  [[nodiscard]] auth::Result<void> forgot(const std::string& email, const auth::ClientInfo& client);
  // Overloaded when forgot() would be now: asked before the rate limits count, so that a caller
  // told to retry does not spend its mailbox's budget on answers of 503 (a review).
  [[nodiscard]] auth::Result<void> forgotHasRoom(const auth::ClientInfo& client);
  // Validation (the new password's policy; the token is not spent), InvalidEmailToken. Ends every
  // session and API key, clears the login lockout, marks the email verified. The account, for
  // the notice its address gets.
  [[nodiscard]] auth::Result<store::User> resetPassword(const std::string& token,
                                                        const std::string& new_password,
                                                        const auth::ClientInfo& client);
  // MailNotConfigured, EmailAlreadyVerified.
  [[nodiscard]] auth::Result<void> requestVerification(const auth::Principal& who,
                                                       const auth::ClientInfo& client);
  // InvalidEmailToken.
  [[nodiscard]] auth::Result<store::User> verifyEmail(const std::string& token,
                                                      const auth::ClientInfo& client);
  // What is wrong with a new address (422 items): checked before the rate limit counts.
  std::vector<auth::FieldError> newEmailProblems(const auth::Principal& who,
                                                 const std::string& new_email) const;
  // MailNotConfigured, Validation. The same answer whether or not the address is taken (that is
  // told only at confirmation): a confirmation to the new address, a notice to the old one.
  [[nodiscard]] auth::Result<void> requestEmailChange(const auth::Principal& who,
                                                      const std::string& new_email,
                                                      const auth::ClientInfo& client);
  // InvalidEmailToken, EmailTaken.
  [[nodiscard]] auth::Result<store::User> confirmEmailChange(const std::string& token,
                                                             const auth::ClientInfo& client);

  // A notice to the user's address of a change to the account's ways in (see Notice). Queued
  // when mail is configured and the address is not a placeholder; nothing otherwise. The caller
  // counts it against EMAIL_RATE_LIMIT per recipient, on a counter of the kind's own (the address
  // may not be the registrant's: registration does not prove it).
  // `new_email`: EmailChanged's, the address `user.email` was changed to.
  [[nodiscard]] auth::Result<void> notice(Notice kind, const store::User& user,
                                          const auth::ClientInfo& client,
                                          std::string_view new_email = {});
  // notice() within its budget (auth::RateCheck::spendNoticeBudget under `limit`,
  // EMAIL_RATE_LIMIT): the one way the server sends a notice, from a route or a service. Over the
  // budget, or not queued, it is logged with the request id and not sent; nothing without mail.
  void noticeWithinBudget(auth::RateCheck& rates, const auth::NoticeLimits& limits, Notice kind,
                          const store::User& user, const auth::ClientInfo& client,
                          std::string_view new_email = {});

  // Waits for the work forgot() left for after the response (tests).
  void flush() { d_.background.flush(); }

 private:
  struct Token {
    std::string text;  // goes into the link only
    std::string hash;  // goes into storage only
  };
  [[nodiscard]] auth::Result<Token> newToken(std::string_view purpose) const;
  std::optional<std::string> digest(std::string_view purpose, std::string_view token) const;
  std::string link(std::string_view page, const std::string& token) const;
  auth::Result<store::OutboxMessage> message(const std::string& kind, const std::string& to,
                                             const store::User& user, const std::string& link,
                                             std::int64_t ttl, const std::string& new_email) const;
  void forgotNow(const std::string& email, const auth::ClientInfo& client);
  // The 503 of a full queue, logged once, then at most every 30 s with the count between
  // (core::FailureLog: a flood would otherwise write a line a request).
  auth::Error forgotQueueFull(const auth::ClientInfo& client);
  // Spends a token: the user as changed, or InvalidEmailToken (audited and counted).
  auth::Result<store::User> redeem(const std::string& token, std::string_view purpose,
                                   const store::TokenEffect& effect, metrics::Registry::Flow flow,
                                   const auth::ClientInfo& client);
  auth::Error reject(std::string_view purpose, metrics::Registry::Flow flow,
                     const auth::ClientInfo& client, const char* reason);
  void queued(const std::vector<store::OutboxMessage>& messages, const auth::ClientInfo& client,
              std::optional<std::int64_t> subject);
  void record(std::string type, const auth::ClientInfo& client, std::optional<std::int64_t> actor,
              std::optional<std::int64_t> subject, boost::json::object detail = {});

  Deps d_;
  std::mutex full_mutex_;
  core::FailureLog full_log_{true};  // never told of a recovery: quiet, each line 30 s apart
};

}  // namespace gatehouse::mail
