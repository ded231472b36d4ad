#pragma once

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
#include "cli/key_access.hpp"
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

// The server's own services over the configured (existing) database, so a command follows the
// same rules and transactions as the API and is audited as actor "cli". The server applies what
// a command changed within a second (it polls the change logs; access tokens end by the
// watermark). Build with open(); not copyable.
struct Context {
  const config::Config& config;
  const rbac::Policy& policy;
  const KeyAccess& access;
  // After open: the master secret, nullopt before the server's first start made it.
  std::optional<std::string> master;
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

  Context(const config::Config& c, const rbac::Policy& p, const KeyAccess& k)
      : config(c), policy(p), access(k) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  // Writes out the AUDIT_LOG_FILE copy of the command's records, and says on stderr how many it
  // could not (a stopped reader is waited on a few seconds, not for ever).
  ~Context();

  // False after writing the reason to `err`: among others, a master secret that does not open
  // (the command's audit records would carry no key, and read as forged after the server's).
  bool open(std::ostream& err);
  // After open, before a change whose notice goes to `user`: what the notice needs, when one can
  // go (mail configured, an address that is not a placeholder); nothing otherwise, no key read.
  // False after writing the reason to `err`, when this configuration could not queue it (the
  // server's would not start either): the command then changes nothing. Before the server's first
  // start there are no keys to seal it with: `err` is told no notice goes, and true.
  bool openMail(const store::User& user, std::ostream& err);
  // Queues `kind`'s notice to `user` as the API does (after openMail); what to tell whoever ran
  // the command ("" when none goes). A failure is written to `err`: the change stands.
  std::string notify(mail::Notice kind, const store::User& user, std::ostream& err);
  // The user with this email, or nullopt after writing "no user with email ..." to `err`.
  std::optional<store::User> userByEmail(const std::string& email, std::ostream& err);
};

// The key audit records are keyed under (keyring::auditChainKey of the master secret); none
// without a master secret (before the server's first start).
[[nodiscard]] core::Result<std::optional<crypto::HmacKey>> auditChainKey(
    const std::optional<std::string>& master);

// Where a command writes its audit copy: AUDIT_LOG_FILE, except that standard output ("-",
// /dev/stdout, descriptor 1) and standard error (/dev/stderr, descriptor 2) are "-", which a
// command's audit log takes for its standard error descriptor, written as it is (a file, a
// socket): its standard output is its answer (a key, a client's JSON, an import report).
std::string commandAuditPath(const std::string& audit_log_file);

// A command's audit log: the database's chain, keyed under `master` when there is one, and
// commandAuditPath(AUDIT_LOG_FILE). Null after writing why to `err`.
std::unique_ptr<audit::AuditLog> commandAuditLog(const config::Config& config, store::Store& store,
                                                 const std::optional<std::string>& master,
                                                 const core::Clock& clock, std::ostream& err);

// One line for a service error: the contract's message and, for validation, each rule that
// failed ("password: ...").
std::string describe(const auth::Error& error);

}  // namespace gatehouse::cli
