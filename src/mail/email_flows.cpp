#include "mail/email_flows.hpp"

#include "auth/claims.hpp"
#include "auth/rate_check.hpp"
#include "auth/validation.hpp"
#include "core/base64url.hpp"
#include "core/log.hpp"
#include "crypto/hmac.hpp"
#include "crypto/random.hpp"

namespace gatehouse::mail {
namespace {

using auth::Errc;
using auth::fail;
using Flow = metrics::Registry::Flow;
using Outcome = metrics::Registry::Outcome;

constexpr std::size_t kTokenBytes = 32;      // 256 bits
constexpr std::size_t kMaxTokenChars = 128;  // checked before anything is hashed or looked up
constexpr std::int64_t kLiveTokensKept = 3;  // per user and purpose (the newest mails work)

bool wellFormedToken(std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenChars) return false;
  for (const char c : token) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// "15 minutes", "24 hours", "1 day"
std::string duration(std::int64_t seconds) {
  const auto unit = [](std::int64_t n, const char* one) {
    return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
  };
  if (seconds % 86400 == 0 && seconds >= 86400 && seconds != 86400)
    return unit(seconds / 86400, "day");
  if (seconds % 3600 == 0 && seconds >= 3600) return unit(seconds / 3600, "hour");
  if (seconds % 60 == 0 && seconds >= 60) return unit(seconds / 60, "minute");
  return unit(seconds, "second");
}

}  // namespace

void EmailFlows::record(std::string type, const auth::ClientInfo& client,
                        std::optional<std::int64_t> actor, std::optional<std::int64_t> subject,
                        boost::json::object detail) {
  d_.audit.record(auth::auditEvent(std::move(type), client, actor, subject, std::move(detail)));
}

std::optional<std::string> EmailFlows::digest(std::string_view purpose,
                                              std::string_view token) const {
  // Bound to the purpose: a verification token can never pass as a reset token.
  auto tag = crypto::hmac(crypto::Digest::Sha256, d_.settings.token_key,
                          std::string(purpose) + ":" + std::string(token));
  if (!tag) return std::nullopt;
  return core::hexEncode(*tag);
}

auth::Result<EmailFlows::Token> EmailFlows::newToken(std::string_view purpose) const {
  auto text = crypto::randomToken(kTokenBytes);
  if (!text) return fail(Errc::Internal, text.error().message);
  auto hash = digest(purpose, *text);
  if (!hash) return fail(Errc::Internal, "token digest failed");
  return Token{std::move(*text), std::move(*hash)};
}

std::string EmailFlows::link(std::string_view page, const std::string& token) const {
  // The fragment never leaves the browser: no server log, Referer or mail scanner sees it.
  if (page == "reset-password" && d_.settings.reset_url) {
    return *d_.settings.reset_url + "#token=" + token;
  }
  return d_.settings.public_url + "/ui/" + std::string(page) + "#token=" + token;
}

auth::Result<store::OutboxMessage> EmailFlows::message(const std::string& kind,
                                                       const std::string& to,
                                                       const store::User& user,
                                                       const std::string& link, std::int64_t ttl,
                                                       const std::string& new_email) const {
  // The token is the link's fragment: shown alone too, for a person without JavaScript.
  const auto fragment = link.find("#token=");
  auto rendered = d_.templates.render(
      kind, {{"product", d_.settings.brand},
             {"link", link},
             {"token", fragment == std::string::npos ? std::string() : link.substr(fragment + 7)},
             {"username", user.username},
             {"email", user.email},
             {"new_email", new_email},
             {"public_url", d_.settings.public_url},
             {"expires", duration(ttl)}});
  if (!rendered) return fail(Errc::Internal, rendered.error().message);
  auto prepared = d_.outbox.prepare(kind, to, *rendered, user.id);
  if (!prepared) return fail(Errc::Internal, "composing " + kind + ": " + prepared.error().message);
  prepared->expires_at = prepared->created_at + ttl;  // the link's life: later, nobody needs it
  return std::move(*prepared);
}

void EmailFlows::queued(const std::vector<store::OutboxMessage>& messages,
                        const auth::ClientInfo& client, std::optional<std::int64_t> subject) {
  d_.outbox.committed(messages.size());
  for (const auto& m : messages)
    record("mail.queued", client, std::nullopt, subject, {{"kind", m.kind}});
}

auth::UserCreator EmailFlows::registration(const auth::ClientInfo& client) {
  return [this, client](const store::NewUser& fresh) -> core::Result<store::User> {
    auto token = newToken("verify");
    if (!token) return core::makeError(core::Errc::Internal, token.error().detail);
    store::User shown;
    shown.email = fresh.email;
    shown.username = fresh.username;
    auto mail = message("verify-email", fresh.email, shown, link("verify-email", token->text),
                        d_.settings.verification_ttl, "");
    if (!mail) return core::makeError(core::Errc::Internal, mail.error().detail);
    mail->user_id.reset();  // filled by the store with the new id
    const std::int64_t now = d_.clock.unixSeconds();
    store::EmailToken stored{token->hash, 0,   "verify",
                             fresh.email, now, now + d_.settings.verification_ttl};
    std::vector<store::OutboxMessage> messages{std::move(*mail)};
    auto user = d_.store.mail().createUser(fresh, stored, messages);
    if (!user) return user;
    queued(messages, client, user->id);
    d_.metrics.emailFlow(Flow::EmailVerification, Outcome::Requested);
    record("email.verification_requested", client, user->id, user->id, {{"on", "registration"}});
    return user;
  };
}

auth::Result<void> EmailFlows::forgot(const std::string& email, const auth::ClientInfo& client) {
  if (!configured()) return fail(Errc::MailNotConfigured);
  // Known or not, the answer leaves now: the lookup and the mail are done after it.
  // A full queue is said (503, Retry-After), never a 202 for a request dropped: a flood from
  // many addresses, each within its limits, kept real owners' reset mails from being sent while
  // they were told they were (an outside attack). The queue is everyone's: nothing is told of
  // the address.
  if (!d_.background.post([this, email, client] { forgotNow(email, client); }))
    return tl::unexpected(forgotQueueFull(client));
  // Counted for every address queued, known or not (the counter must not tell which).
  d_.metrics.emailFlow(Flow::PasswordReset, Outcome::Requested);
  return {};
}

auth::Result<void> EmailFlows::forgotHasRoom(const auth::ClientInfo& client) {
  if (configured() && d_.background.full()) return tl::unexpected(forgotQueueFull(client));
  return {};
}

auth::Error EmailFlows::forgotQueueFull(const auth::ClientInfo& client) {
  const std::lock_guard lock(full_mutex_);  // workers answer at once; the log is one
  if (auto line = full_log_.failed(core::FailureLog::Clock::now(),
                                   "the queue of requests waiting for their lookup is full; "
                                   "answered 503")) {
    spdlog::warn("request_id={} forgot-password: {}", client.request_id, *line);
  }
  return auth::Error{Errc::Overloaded, "forgot-password queue full", {}, 0};
}

void EmailFlows::forgotNow(const std::string& email, const auth::ClientInfo& client) {
  auto found = d_.store.users().findByEmail(email);
  if (!found) {
    spdlog::error("request_id={} forgot-password: lookup failed: {}", client.request_id,
                  found.error().message);
    return;
  }
  // Nothing to send, nothing to tell: unknown, inactive, or a placeholder address (RFC 2606
  // .invalid) made for a provider that gave none. The token and the message are made all the same
  // (and dropped), so that what differs is only the write, at a moment Background spreads.
  const bool sends = *found && (*found)->is_active && !auth::isPlaceholderAddress((*found)->email);
  store::User decoy;
  decoy.email = email;
  decoy.username = email.substr(0, email.find('@'));
  const store::User& user = sends ? **found : decoy;
  auto token = newToken("reset");
  if (!token) return;
  auto mail = message("reset-password", user.email, user, link("reset-password", token->text),
                      d_.settings.reset_ttl, "");
  if (!sends) return;
  if (!mail) {
    spdlog::error("request_id={} forgot-password: {}", client.request_id, mail.error().detail);
    return;
  }
  const std::int64_t now = d_.clock.unixSeconds();
  std::vector<store::OutboxMessage> messages{std::move(*mail)};
  if (auto ok = d_.store.mail().issue(
          {token->hash, user.id, "reset", user.email, now, now + d_.settings.reset_ttl}, messages,
          kLiveTokensKept);
      !ok) {
    spdlog::error("request_id={} forgot-password: storing the token failed: {}", client.request_id,
                  ok.error().message);
    return;
  }
  queued(messages, client, user.id);
  record("password.reset_requested", client, std::nullopt, user.id);
}

auth::Error EmailFlows::reject(std::string_view purpose, Flow flow, const auth::ClientInfo& client,
                               const char* reason) {
  d_.metrics.emailFlow(flow, Outcome::Rejected);
  record("email.token_rejected", client, std::nullopt, std::nullopt,
         {{"purpose", std::string(purpose)}, {"reason", reason}});
  return auth::Error{Errc::InvalidEmailToken, reason, {}, 0};
}

auth::Result<store::User> EmailFlows::redeem(const std::string& token, std::string_view purpose,
                                             const store::TokenEffect& effect, Flow flow,
                                             const auth::ClientInfo& client) {
  const auto rejected = [&](const char* reason) -> auth::Result<store::User> {
    return tl::unexpected(reject(purpose, flow, client, reason));
  };
  if (!wellFormedToken(token)) return rejected("malformed");
  auto hash = digest(purpose, token);
  if (!hash) return fail(Errc::Internal, "token digest failed");
  auto user = d_.store.mail().redeem(*hash, purpose, d_.clock.unixSeconds(), effect);
  if (!user) {
    if (user.error().code == core::Errc::NotFound) return rejected("unknown, used or expired");
    if (user.error().code == core::Errc::AlreadyExists) return fail(Errc::EmailTaken);
    return tl::unexpected(auth::storeFailure(user.error()));
  }
  d_.users.invalidate(user->id);
  d_.metrics.emailFlow(flow, Outcome::Completed);
  return std::move(*user);
}

auth::Result<store::User> EmailFlows::resetPassword(const std::string& token,
                                                    const std::string& new_password,
                                                    const auth::ClientInfo& client) {
  if (auto problems = d_.passwords.newPasswordProblems(new_password, "new_password");
      !problems.empty()) {
    return tl::unexpected(auth::Error{Errc::Validation, "password policy", std::move(problems), 0});
  }
  // The token is looked at before the hash is paid for, and spent only after.
  std::optional<store::EmailToken> live;
  if (auto hash = wellFormedToken(token) ? digest("reset", token) : std::nullopt) {
    auto found = d_.store.mail().findToken(*hash, "reset", d_.clock.unixSeconds());
    if (!found) return tl::unexpected(auth::storeFailure(found.error()));
    live = std::move(*found);
  }
  if (!live)
    return tl::unexpected(reject("reset", Flow::PasswordReset, client, "unknown, used or expired"));
  auto hashed = d_.passwords.hashNewPassword(new_password, "new_password");
  if (!hashed) return tl::unexpected(hashed.error());
  auto ending = d_.end.liveSessionsOf(live->user_id);
  if (!ending) return tl::unexpected(ending.error());
  // As the reset's transaction saw the account: a password set meanwhile (an administrator's)
  // makes it no first password.
  bool had_password = false;
  std::int64_t unproven = 0;  // a first password: the identities that had not proved the address
  auto user = redeem(
      token, "reset",
      {store::TokenEffect::Kind::ResetPassword, std::move(*hashed), true, &unproven, &had_password},
      Flow::PasswordReset, client);
  if (!user) return tl::unexpected(user.error());
  d_.api_keys.forgetUser(user->id);
  // Whoever locked the account out by guessing no longer keeps its owner out.
  d_.guard.succeeded(auth::lockoutKey(user->id));
  // The passkeys were kept as second factors only; unless it set a first password, the identities
  // were removed, and a first password removed those that had not proved the account's address
  // (store::TokenEffect::ResetPassword).
  boost::json::object detail{
      {"via", "email"}, {"api_keys", "revoked"}, {"passkeys", "second_factor_only"}};
  if (had_password) {
    detail["identities"] = "removed";
  } else if (unproven > 0) {
    detail["identities"] = "unproven_removed";
    detail["identities_removed"] = unproven;
  }
  record("password.reset", client, std::nullopt, user->id, std::move(detail));
  // Committed: the watermark already voids every earlier token; ending the sessions' tokens on
  // every node at once is on top, and its failure must not report the reset as failed.
  if (auto ended = d_.end.endTokens(*ending); !ended) {
    spdlog::warn("request_id={} password reset: sessions' tokens not ended at once: {}",
                 client.request_id, ended.error().detail);
  }
  return std::move(*user);
}

auth::Result<void> EmailFlows::requestVerification(const auth::Principal& who,
                                                   const auth::ClientInfo& client) {
  if (who.user->email_verified) return fail(Errc::EmailAlreadyVerified);
  if (!configured()) return fail(Errc::MailNotConfigured);
  const store::User& user = *who.user;
  if (auth::isPlaceholderAddress(user.email)) {
    return tl::unexpected(auth::Error{
        Errc::Validation,
        "placeholder address",
        {{{"user", "email"},
          "is a placeholder (the provider gave no verified address): change the email first",
          "value_error.email"}},
        0});
  }
  auto token = newToken("verify");
  if (!token) return tl::unexpected(token.error());
  auto mail = message("verify-email", user.email, user, link("verify-email", token->text),
                      d_.settings.verification_ttl, "");
  if (!mail) return tl::unexpected(mail.error());
  const std::int64_t now = d_.clock.unixSeconds();
  std::vector<store::OutboxMessage> messages{std::move(*mail)};
  if (auto ok = d_.store.mail().issue(
          {token->hash, user.id, "verify", user.email, now, now + d_.settings.verification_ttl},
          messages, kLiveTokensKept);
      !ok) {
    return tl::unexpected(auth::storeFailure(ok.error()));
  }
  queued(messages, client, user.id);
  d_.metrics.emailFlow(Flow::EmailVerification, Outcome::Requested);
  record("email.verification_requested", client, user.id, user.id);
  return {};
}

auth::Result<store::User> EmailFlows::verifyEmail(const std::string& token,
                                                  const auth::ClientInfo& client) {
  auto user = redeem(token, "verify", {store::TokenEffect::Kind::VerifyEmail, "", false},
                     Flow::EmailVerification, client);
  if (user) record("email.verified", client, std::nullopt, user->id);
  return user;
}

std::vector<auth::FieldError> EmailFlows::newEmailProblems(const auth::Principal& who,
                                                           const std::string& new_email) const {
  std::vector<auth::FieldError> errors;
  if (auto p = auth::emailProblem(new_email); !p.empty()) {
    errors.push_back({{"body", "new_email"}, p, "value_error.email"});
  } else if (store::sameAddress(new_email, who.user->email)) {
    errors.push_back(
        {{"body", "new_email"}, "is already the account's address", "value_error.email"});
  }
  return errors;
}

std::string_view noticeName(Notice kind) {
  switch (kind) {
    case Notice::PasskeyAdded:
      return "passkey-added";
    case Notice::TotpAdded:
      return "totp-added";
    case Notice::RecoveryCodesReplaced:
      return "recovery-codes-replaced";
    case Notice::FactorRemoved:
      return "factor-removed";
    case Notice::PasswordChanged:
      return "password-changed";
    case Notice::IdentityLinked:
      return "identity-linked";
    case Notice::SecondFactorFailures:
      return "second-factor-failures";
    case Notice::SecondFactorLocked:
      return "second-factor-locked";
    case Notice::EmailChanged:
      return "email-changed";
  }
  return "";
}

void EmailFlows::noticeWithinBudget(auth::RateCheck& rates, const auth::NoticeLimits& limits,
                                    Notice kind, const store::User& user,
                                    const auth::ClientInfo& client, std::string_view new_email) {
  if (!configured()) return;
  const std::string_view name = noticeName(kind);
  // An administrator's change of address is told to the old one on its own count alone, as a
  // verified address's notices are: on the acting client's counts the one acting could spend
  // them first, on throwaway accounts, and then move the owner's address unheard (a review).
  const bool own_count = user.email_verified || kind == Notice::EmailChanged;
  if (!rates.spendNoticeBudget(limits, name, user.email, own_count, client)) {
    spdlog::warn("request_id={} the {} notice is not sent: EMAIL_RATE_LIMIT or EMAIL_IP_RATE_LIMIT",
                 client.request_id, name);
    return;
  }
  if (auto told = notice(kind, user, client, new_email); !told)
    spdlog::warn("request_id={} the {} notice was not queued: {}", client.request_id, name,
                 told.error().detail);
}

auth::Result<void> EmailFlows::notice(Notice kind, const store::User& user,
                                      const auth::ClientInfo& client, std::string_view new_email) {
  if (!configured() || auth::isPlaceholderAddress(user.email)) return {};
  // Where the owner mends it: the account page's section, or (the password no longer theirs) a
  // reset link of their own asking.
  std::string_view path = "/ui/account#mfa";
  if (kind == Notice::PasskeyAdded) path = "/ui/account#passkeys";
  if (kind == Notice::FactorRemoved) path = "/ui/account";  // an app or a passkey
  // The password no longer theirs, or (codes locked) a new one the way to unlock them.
  if (kind == Notice::PasswordChanged || kind == Notice::SecondFactorLocked)
    path = "/ui/forgot-password";
  if (kind == Notice::IdentityLinked) path = "/ui/account#identities";
  if (kind == Notice::SecondFactorFailures) path = "/ui/account";  // its password section
  if (kind == Notice::EmailChanged) path = "/ui/login";  // resets now go to the new address
  // A week in the outbox (its attempts are MAIL_MAX_ATTEMPTS like any message's).
  constexpr std::int64_t kNoticeLife = 7 * 24 * 3600;
  auto mail =
      message(std::string(noticeName(kind)), user.email, user,
              d_.settings.public_url + std::string(path), kNoticeLife, std::string(new_email));
  if (!mail) return tl::unexpected(mail.error());
  std::vector<store::OutboxMessage> messages{std::move(*mail)};
  const std::int64_t now = d_.clock.unixSeconds();
  // No token: the message alone.
  if (auto ok = d_.store.mail().issue({"", user.id, "notice", user.email, now, now}, messages, 1);
      !ok)
    return tl::unexpected(auth::storeFailure(ok.error()));
  queued(messages, client, user.id);
  return {};
}

auth::Result<void> EmailFlows::requestEmailChange(const auth::Principal& who,
                                                  const std::string& new_email,
                                                  const auth::ClientInfo& client) {
  if (!configured()) return fail(Errc::MailNotConfigured);
  if (auto problems = newEmailProblems(who, new_email); !problems.empty())
    return tl::unexpected(auth::Error{Errc::Validation, "new email", std::move(problems), 0});
  const store::User& user = *who.user;
  auto token = newToken("change");
  if (!token) return tl::unexpected(token.error());
  // Whether the address is taken is told only at confirmation, to its owner: asking here reveals
  // nothing about who is registered.
  auto confirm = message("confirm-email-change", new_email, user,
                         link("confirm-email", token->text), d_.settings.change_ttl, new_email);
  auto notice =
      message("email-change-notice", user.email, user, "", d_.settings.change_ttl, new_email);
  if (!confirm) return tl::unexpected(confirm.error());
  if (!notice) return tl::unexpected(notice.error());
  const std::int64_t now = d_.clock.unixSeconds();
  std::vector<store::OutboxMessage> messages{std::move(*confirm)};
  // The old address hears of it, unless it is a placeholder nobody reads.
  if (!auth::isPlaceholderAddress(user.email)) messages.push_back(std::move(*notice));
  // Only the newest change request stands, and only while the asking session lives: a request
  // racing a reset or password change (the owner taking the account back) writes nothing.
  if (auto ok = d_.store.mail().issue(
          {token->hash, user.id, "change", new_email, now, now + d_.settings.change_ttl}, messages,
          1, auth::sessionOf(who.claims()));
      !ok) {
    if (ok.error().code == core::Errc::FailedPrecondition)
      return fail(Errc::InvalidToken, "the session ended while asking for an email change");
    return tl::unexpected(auth::storeFailure(ok.error()));
  }
  queued(messages, client, user.id);
  d_.metrics.emailFlow(Flow::EmailChange, Outcome::Requested);
  record("email.change_requested", client, user.id, user.id, {{"new_email", new_email}});
  return {};
}

auth::Result<store::User> EmailFlows::confirmEmailChange(const std::string& token,
                                                         const auth::ClientInfo& client) {
  auto user = redeem(token, "change", {store::TokenEffect::Kind::ChangeEmail, "", false},
                     Flow::EmailChange, client);
  if (user) record("email.changed", client, std::nullopt, user->id, {{"new_email", user->email}});
  return user;
}

}  // namespace gatehouse::mail
