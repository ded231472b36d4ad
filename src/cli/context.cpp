#include "cli/context.hpp"

#include <iostream>
#include <unistd.h>

#include "auth/validation.hpp"
#include "cli/database.hpp"
#include "core/files.hpp"
#include "keyring/purposes.hpp"

namespace gatehouse::cli {

core::Result<std::optional<crypto::HmacKey>> auditChainKey(
    const std::optional<std::string>& master) {
  if (!master) return std::optional<crypto::HmacKey>();
  auto key = keyring::auditChainKey(*master);
  if (!key) return tl::unexpected(key.error());
  auto made = crypto::HmacKey::create(crypto::Digest::Sha256, std::move(*key));
  if (!made) return tl::unexpected(made.error());
  return std::optional<crypto::HmacKey>(std::move(*made));
}

std::string commandAuditPath(const std::string& audit_log_file) {
  // An outside attack found the records inside a key captured by $(gatehouse apikey create) and
  // in an import's report.
  const int fd = core::descriptorNamed(audit_log_file);
  // The descriptor itself, whatever file or socket it is.
  return fd == STDOUT_FILENO || fd == STDERR_FILENO ? "-" : audit_log_file;
}

std::unique_ptr<audit::AuditLog> commandAuditLog(const config::Config& config, store::Store& store,
                                                 const std::optional<std::string>& master,
                                                 const core::Clock& clock, std::ostream& err) {
  auto chain_key = auditChainKey(master);
  if (!chain_key) {
    err << "gatehouse: the audit log's key: " << chain_key.error().message << "\n";
    return nullptr;
  }
  return std::make_unique<audit::AuditLog>(
      store.audit(), clock, commandAuditPath(config.audit_log_file), std::move(*chain_key),
      STDERR_FILENO);  // "-": standard error, never the command's answer
}

Context::~Context() {
  // A command ends soon after its records: before the review it dropped a stalled reader's
  // lines silently, and exited 0.
  if (!audit) return;
  if (const std::uint64_t lost = audit->closeSink(); lost > 0) {
    std::cerr << "gatehouse: " << lost
              << " audit record(s) could not be written to AUDIT_LOG_FILE (the database keeps "
                 "them)\n";
  }
}

bool Context::open(std::ostream& err) {
  // A change the exported audit stream would miss is not made (an outside attack: root's
  // `user create --role admin` left no line in a file owned by the service's user).
  if (refusesWithoutAuditSink(config, err)) return false;
  auto made = password::PasswordHasher::create(config.hash_policy);
  if (!made) {
    err << "gatehouse: password policy: " << made.error().message << "\n";
    return false;
  }
  hasher = std::move(*made);
  store = openExisting(config, err);
  if (!store) return false;
  // One hashing thread at normal priority: the command waits for it.
  pool = std::make_unique<password::HashPool>(
      password::HashPool::Options{.threads = 1, .queue_capacity = 4, .nice = 0});
  // Persisted for the server to read; a command has no bus of its own.
  revocations = std::make_unique<auth::RevocationList>(store->revocations());
  cache = std::make_unique<auth::UserCache>(store->users());
  auto stored = access.master_secret(*store);
  if (!stored) {
    err << "gatehouse: the master secret (the audit log's records are keyed under it): "
        << stored.error().message << "; nothing was changed\n";
    return false;
  }
  master = std::move(*stored);
  audit = commandAuditLog(config, *store, master, clock, err);
  if (!audit) return false;
  guard = std::make_unique<state::LocalLoginGuard>(state::LockoutPolicy{});
  session_end =
      std::make_unique<auth::SessionEnd>(*store, *revocations, clock, config.access_token_ttl);
  keys = std::make_unique<auth::ApiKeyService>(*store, policy, *cache, *audit, clock,
                                               config.api_keys_per_user);
  users = std::make_unique<auth::UserService>(*store, policy, *cache, *audit, clock, *keys,
                                              *session_end);
  passwords = std::make_unique<auth::PasswordService>(auth::PasswordService::Deps{
      *store, *hasher, *pool, policy, *cache, *session_end, *revocations, *guard, *audit, metrics,
      clock, config.password_rules});
  rates = std::make_unique<auth::RateCheck>(limiter, metrics, *audit, clock);
  mfa = std::make_unique<mfa::MfaService>(mfa::MfaService::Deps{
      *store, once, limiter, *rates, policy, *cache, *audit, metrics, clock, mfa::Settings{}});
  actor = auth::Actor{std::nullopt, policy.allPermissions()};
  return true;
}

bool Context::openMail(const store::User& user, std::ostream& err) {
  if (!config.mail.configured() || auth::isPlaceholderAddress(user.email)) return true;
  const auto fail = [&err](const std::string& why) {
    err << "gatehouse: mail is configured, and the notice this change sends cannot be queued: "
        << why << "; nothing was changed\n";
    return false;
  };
  auto loaded = mail::Templates::load(config.mail.template_dir);
  if (!loaded) return fail("GATEHOUSE_TEMPLATE_DIR: " + loaded.error().message);
  if (!master) {
    err << "gatehouse: no notice goes to " << user.email
        << ": the keys it is sealed with are made at the server's first start\n";
    return true;
  }
  auto purpose = keyring::derivePurposeKeys(*master);
  if (!purpose) return fail(purpose.error().message);
  transport = mail::transportFor(config.mail);
  templates = std::move(*loaded);
  // This process never claims or sends: its node name marks nothing.
  outbox = std::make_unique<mail::Outbox>(mail::Outbox::Deps{
      store->mail(),
      transport.get(),
      *audit,
      metrics,
      clock,
      {.from = config.mail.smtp_from, .sealing_key = purpose->outbox_sealing, .node = "cli"}});
  background = std::make_unique<mail::Background>(1);
  flows = std::make_unique<mail::EmailFlows>(mail::EmailFlows::Deps{
      *store,
      *passwords,
      *keys,
      *cache,
      *session_end,
      *guard,
      *outbox,
      *templates,
      *background,
      *audit,
      metrics,
      clock,
      {access.public_url, config.mail.password_reset_url, config.mail.brand_name,
       config.mail.reset_ttl_seconds, config.mail.verification_ttl_seconds,
       config.mail.change_ttl_seconds, purpose->email_tokens}});
  return true;
}

std::string Context::notify(mail::Notice kind, const store::User& user, std::ostream& err) {
  if (!flows || auth::isPlaceholderAddress(user.email)) return "";
  if (auto ok = flows->notice(kind, user, client); !ok) {
    err << "gatehouse: warning: the change is made, and its notice to " << user.email
        << " could not be queued: " << describe(ok.error()) << "\n";
    return "";
  }
  return "; a notice to " + user.email + " is queued (the running server sends it)";
}

std::optional<store::User> Context::userByEmail(const std::string& email, std::ostream& err) {
  auto user = users->findByEmail(email);
  if (user) return std::move(*user);
  err << "gatehouse: "
      << (user.error().code == auth::Errc::UserNotFound ? "no user with email " + email
                                                        : describe(user.error()))
      << "\n";
  return std::nullopt;
}

std::string describe(const auth::Error& error) {
  switch (error.code) {
    case auth::Errc::EmailTaken:
      return "Email already registered";
    case auth::Errc::UsernameTaken:
      return "Username already taken";
    case auth::Errc::LastAdmin:
      return "Cannot remove, deactivate or demote the last active admin";
    case auth::Errc::ApiKeyLimit:
      return "API key limit reached";
    case auth::Errc::ApiKeyNotFound:
      return "API key not found";
    case auth::Errc::Unavailable:
      return "storage unavailable: " + error.detail;
    case auth::Errc::UserNotFound:
      return "User not found";
    case auth::Errc::InactiveUser:
      return "Inactive user";
    case auth::Errc::Validation: {
      std::string text;
      for (const auto& f : error.fields) {
        text += (text.empty() ? "" : "; ") + (f.loc.empty() ? "" : f.loc.back() + ": ") + f.msg;
      }
      return text;
    }
    default:
      return error.detail.empty() ? "failed" : error.detail;
  }
}

}  // namespace gatehouse::cli
