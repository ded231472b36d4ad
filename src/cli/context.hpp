#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "audit/audit_log.hpp"
#include "auth/api_keys.hpp"
#include "auth/passwords.hpp"
#include "auth/rate_check.hpp"
#include "auth/revocations.hpp"
#include "auth/session_end.hpp"
#include "auth/user_cache.hpp"
#include "auth/user_service.hpp"
#include "config/config.hpp"
#include "mail/background.hpp"
#include "mail/email_flows.hpp"
#include "mail/outbox.hpp"
#include "mail/templates.hpp"
#include "mail/transport.hpp"
#include "metrics/metrics.hpp"
#include "mfa/mfa_service.hpp"
#include "password/hash_pool.hpp"
#include "password/password_hasher.hpp"
#include "rbac/policy.hpp"
#include "state/local.hpp"
#include "state/once.hpp"
#include "store/store.hpp"

namespace gatehouse::cli {

// What a command that changes an account's ways in needs to queue the notice the API's same change
// queues (mail::Notice): the master secret the outbox's sealing and the links' keys derive from
// (app::masterSecret, read from the store the command opened), and the address links point to.
struct MailAccess {
  std::function<core::Result<std::string>(store::Store&)> master_secret;
  std::string public_url;
};

// The server's own services over the configured (existing) database, so a command follows the
// same rules and transactions as the API and is audited as actor "cli". The server applies what
// a command changed within a second (it polls the change logs; access tokens end by the
// watermark). Build with open(); not copyable.
struct Context {
  const config::Config& config;
  const rbac::Policy& policy;
  core::SystemClock clock;
  std::unique_ptr<store::Store> store;
  std::optional<password::PasswordHasher> hasher;
  std::unique_ptr<password::HashPool> pool;
  std::unique_ptr<auth::RevocationList> revocations;
  std::unique_ptr<auth::UserCache> cache;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<state::LocalLoginGuard> guard;
  metrics::Registry metrics;
  std::unique_ptr<auth::SessionEnd> session_end;
  std::unique_ptr<auth::ApiKeyService> keys;
  std::unique_ptr<auth::UserService> users;
  std::unique_ptr<auth::PasswordService> passwords;
  // For resets only: a command enrols no factor, so it holds no sealing key.
  state::LocalRateLimiter limiter;
  state::LocalOneTimeStore once;
  std::unique_ptr<auth::RateCheck> rates;
  std::unique_ptr<mfa::MfaService> mfa;
  const auth::ClientInfo client = auth::commandLineClient();
  // Whoever runs the command owns the database: every permission, no user id.
  auth::Actor actor;
  // After openMail, with mail configured: the notices. The command only queues them, in the
  // database; the running server's outbox sends them.
  std::unique_ptr<mail::Transport> transport;
  std::optional<mail::Templates> templates;
  std::unique_ptr<mail::Outbox> outbox;
  std::unique_ptr<mail::Background> background;
  std::unique_ptr<mail::EmailFlows> flows;

  Context(const config::Config& c, const rbac::Policy& p) : config(c), policy(p) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // False after writing the reason to `err`.
  bool open(std::ostream& err);
  // After open: with mail configured (SMTP_URL or MAIL_FILE), what notices need; false after
  // writing the reason to `err` (before the command changes anything). Nothing without mail.
  bool openMail(const MailAccess& access, std::ostream& err);
  // Queues `kind`'s notice to `user` as the API does; what to tell whoever ran the command
  // ("" when no notice goes: mail not configured, a placeholder address).
  std::string notify(mail::Notice kind, const store::User& user);
  // The user with this email, or nullopt after writing "no user with email ..." to `err`.
  std::optional<store::User> userByEmail(const std::string& email, std::ostream& err);
};

// One line for a service error: the contract's message and, for validation, each rule that
// failed ("password: ...").
std::string describe(const auth::Error& error);

}  // namespace gatehouse::cli
