#include "cli/user_commands.hpp"

#include "audit/audit_log.hpp"
#include "auth/validation.hpp"
#include "cli/database.hpp"
#include "password/password_hasher.hpp"
#include "store/store.hpp"

namespace gatehouse::cli {
namespace {

int failure(std::ostream& err, const std::string& why) {
  err << "gatehouse: " << why << "\n";
  return 1;
}

std::optional<store::User> byEmail(store::Store& s, const std::string& email, std::ostream& err) {
  auto user = s.users().findByEmail(email);
  if (!user) {
    failure(err, user.error().message);
    return std::nullopt;
  }
  if (!*user) {
    failure(err, "no user with email " + email);
    return std::nullopt;
  }
  return **user;
}

// The hasher, or the reason the password fails the policy (every rule named) or no hasher can
// be made; written to `err`.
std::optional<password::PasswordHasher> policyHasher(const config::Config& config,
                                                     const std::string& password,
                                                     std::ostream& err) {
  auto problems = auth::passwordProblems(password, config.password_rules);
  auto hasher = password::PasswordHasher::create(config.hash_policy);
  if (!hasher) return failure(err, hasher.error().message), std::nullopt;
  if (auto ok = hasher->acceptable(password); !ok) problems.push_back(ok.error().message);
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    return failure(err, "password: " + all), std::nullopt;
  }
  return std::move(*hasher);
}

std::string describeFailure(const core::Error& e) {
  if (e.code == core::Errc::AlreadyExists) {
    return e.conflict == core::Conflict::Username ? "Username already taken"
                                                  : "Email already registered";
  }
  if (e.code == core::Errc::FailedPrecondition)
    return "cannot deactivate or demote the last active admin";
  return e.message;
}

}  // namespace

int migrate(const config::Config& config, std::ostream& out, std::ostream& err) {
  auto store = store::openStore(config.database_url);
  if (!store) return failure(err, store.error().message);
  auto version = (*store)->migrate();
  if (!version) return failure(err, "migration failed: " + version.error().message);
  out << "database schema at version " << *version << "\n";
  return 0;
}

int userCreate(const config::Config& config, const rbac::Policy& policy, const UserCreate& args,
               std::ostream& out, std::ostream& err) {
  if (auto p = auth::emailProblem(args.email); !p.empty()) return failure(err, "--email: " + p);
  if (auto p = auth::usernameProblem(args.username); !p.empty())
    return failure(err, "--username: " + p);
  if (!policy.hasRole(args.role)) return failure(err, "--role: unknown role " + args.role);
  auto hasher = policyHasher(config, args.password, err);
  if (!hasher) return 1;
  auto store = openExisting(config, err);
  if (!store) return 1;
  auto hash = hasher->hash(args.password);
  if (!hash) return failure(err, hash.error().message);
  auto user = store->users().create(
      {args.email, args.username, *hash, args.role, true, args.email_verified});
  if (!user) return failure(err, describeFailure(user.error()));
  out << "created user " << user->id << " " << user->email << " (" << user->role << ")\n";
  return 0;
}

int userList(const config::Config& config, std::ostream& out, std::ostream& err) {
  auto store = openExisting(config, err);
  if (!store) return 1;
  out << "id\temail\tusername\trole\tactive\n";
  for (std::int64_t offset = 0;; offset += 500) {
    auto page = store->users().list(500, offset);
    if (!page) return failure(err, page.error().message);
    for (const auto& u : *page) {
      out << u.id << "\t" << u.email << "\t" << u.username << "\t" << u.role << "\t"
          << (u.is_active ? "yes" : "no") << "\n";
    }
    if (page->size() < 500) return 0;
  }
}

int userSetRole(const config::Config& config, const rbac::Policy& policy, const std::string& email,
                const std::string& role, std::ostream& out, std::ostream& err) {
  if (!policy.hasRole(role)) return failure(err, "--role: unknown role " + role);
  auto store = openExisting(config, err);
  if (!store) return 1;
  auto user = byEmail(*store, email, err);
  if (!user) return 1;
  store::UserPatch patch;
  patch.role = role;
  auto updated = store->users().update(user->id, patch, rbac::kAdminRole);
  if (!updated) return failure(err, describeFailure(updated.error()));
  out << "user " << updated->id << " now has role " << role << "\n";
  return 0;
}

int auditVerify(const config::Config& config, std::ostream& out, std::ostream& err) {
  auto store = openExisting(config, err);
  if (!store) return 1;
  auto report = audit::verifyChain(store->audit());
  if (!report) return failure(err, report.error().message);
  if (report->first_bad_id) return failure(err, "audit chain broken: " + report->problem);
  out << "audit chain intact: " << report->checked << " records\n";
  return 0;
}

int userSetActive(const config::Config& config, const std::string& email, bool active,
                  std::ostream& out, std::ostream& err) {
  auto store = openExisting(config, err);
  if (!store) return 1;
  auto user = byEmail(*store, email, err);
  if (!user) return 1;
  store::UserPatch patch;
  patch.is_active = active;
  // As the API does, in one transaction: sessions, tokens and API keys end for good (the server
  // reads the change logs within a second; access tokens end by the watermark).
  if (!active) {
    patch.deactivated_at = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  }
  auto updated = store->users().update(user->id, patch, rbac::kAdminRole);
  if (!updated) return failure(err, describeFailure(updated.error()));
  out << "user " << updated->id << (active ? " activated" : " deactivated") << "\n";
  return 0;
}

int userSetPassword(const config::Config& config, const std::string& email,
                    const std::string& password, std::ostream& out, std::ostream& err) {
  auto hasher = policyHasher(config, password, err);
  if (!hasher) return 1;
  auto store = openExisting(config, err);
  if (!store) return 1;
  auto user = byEmail(*store, email, err);
  if (!user) return 1;
  auto hash = hasher->hash(password);
  if (!hash) return failure(err, hash.error().message);
  core::SystemClock clock;
  // One transaction, as a password change through the API: the hash, the watermark and the end
  // of every session (the server applies it within a second).
  if (auto ok = store->users().changePassword(user->id, *hash, clock.unixSeconds(), false); !ok)
    return failure(err, describeFailure(ok.error()));
  audit::AuditLog audit(store->audit(), clock, config.audit_log_file);
  audit.record({"password.reset", "", std::nullopt, user->id, "", "gatehouse cli",
                boost::json::object{{"actor", "cli"}}});
  out << "password set for user " << user->id << "; their sessions have ended\n";
  return 0;
}

}  // namespace gatehouse::cli
