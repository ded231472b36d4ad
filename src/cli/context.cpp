#include "cli/context.hpp"

#include "cli/database.hpp"

namespace gatehouse::cli {

bool Context::open(std::ostream& err) {
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
  audit = std::make_unique<audit::AuditLog>(store->audit(), clock, config.audit_log_file);
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
