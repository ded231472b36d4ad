#include "cli/user_commands.hpp"

#include "audit/audit_log.hpp"
#include "cli/context.hpp"
#include "cli/database.hpp"
#include "store/store.hpp"

namespace gatehouse::cli {
namespace {

int failure(std::ostream& err, const std::string& why) {
  err << "gatehouse: " << why << "\n";
  return 1;
}

}  // namespace

int migrate(const config::Config& config, std::ostream& out, std::ostream& err) {
  if (refusesRootInAnotherUsersDirectory(config, err)) return 1;
  // Nor does migrate make a lost database afresh (a review: the refusal below told the operator
  // to run it, and serve then started on the new one).
  if (auto lost = lostDatabase(config)) return failure(err, *lost);
  auto store = store::openStore(config.database_url);
  if (!store) return failure(err, store.error().message);
  auto version = (*store)->migrate();
  if (!version) return failure(err, "migration failed: " + version.error().message);
  out << "database schema at version " << *version << "\n";
  if (auto newer = store::newerSchemaWarning(*version)) err << "gatehouse: " << *newer << "\n";
  return 0;
}

int userCreate(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
               const UserCreate& args, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  auto user = c.passwords->createAccount(
      {args.email, args.username, args.password, args.role, args.email_verified}, c.client);
  if (!user) return failure(err, describe(user.error()));
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

int userSetRole(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                const std::string& email, const std::string& role, std::ostream& out,
                std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  auto user = c.userByEmail(email, err);
  if (!user) return 1;
  auto updated = c.users->setRole(user->id, role, c.actor, c.client);
  if (!updated) return failure(err, describe(updated.error()));
  out << "user " << updated->id << " now has role " << role << "\n";
  return 0;
}

int auditVerify(const config::Config& config, const KeyAccess& access, std::int64_t unkeyed_before,
                std::ostream& out, std::ostream& err) {
  auto store = openExisting(config, err);
  if (!store) return 1;
  auto master = access.master_secret_to_read(*store);
  if (!master)
    return failure(
        err, "the master secret (audit records are keyed under it): " + master.error().message);
  auto key = auditChainKey(*master);
  if (!key) return failure(err, key.error().message);
  auto report = audit::verifyChain(
      store->audit(), {.key = *key ? &**key : nullptr, .unkeyed_before = unkeyed_before});
  if (!report) return failure(err, report.error().message);
  if (report->first_bad_id) return failure(err, "audit chain broken: " + report->problem);
  // Without a master secret nothing but the hashes was checked, and a writer of the database
  // recomputes those: only before the server's first start is that all there is. A ring emptied
  // afterwards is tampering (or a database another node never started on).
  if (!*key && report->checked > 0) {
    return failure(err, std::to_string(report->checked) +
                            " records, and no master secret in this database to check their keys "
                            "with: the server makes it at its first start; after that, its "
                            "absence means the key ring was emptied");
  }
  out << "audit chain intact: " << report->checked << " records, " << report->keyed << " keyed";
  if (report->keyed < report->checked) {
    out << " (" << (report->checked - report->keyed)
        << " written without a key: before the server's first start made one, or below "
           "--unkeyed-before; "
        << (report->uncovered > 0
                ? "no keyed record follows them yet, so only their hashes check them)"
                : "each is covered by the next keyed record's key)");
  }
  out << "\n";
  // Rows cut from the end leave a whole chain, and a table emptied leaves none: only a copy kept
  // elsewhere tells (an outside attack read "intact: 0 records" as good news).
  if (report->checked == 0) {
    err << "gatehouse: no audit records at all: a new database, or one whose records were "
           "deleted; compare with the copy AUDIT_LOG_FILE shipped\n";
  }
  return 0;
}

int userSetActive(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                  const std::string& email, bool active, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  auto user = c.userByEmail(email, err);
  if (!user) return 1;
  // As the API does, in one transaction: sessions, tokens and API keys end for good.
  store::UserPatch patch;
  patch.is_active = active;
  auto updated = c.users->update(user->id, patch, c.actor, c.client);
  if (!updated) return failure(err, describe(updated.error()));
  out << "user " << updated->after.id << (active ? " activated" : " deactivated") << "\n";
  return 0;
}

int userSetPassword(const config::Config& config, const rbac::Policy& policy,
                    const KeyAccess& access, const std::string& email, const std::string& password,
                    bool keep_api_keys, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  auto user = c.userByEmail(email, err);
  if (!user || !c.openMail(*user, err)) return 1;
  if (auto ok = c.passwords->setPassword(user->id, password, c.client, keep_api_keys); !ok)
    return failure(err, describe(ok.error()));
  if (!keep_api_keys) c.keys->forgetUser(user->id);
  // As an administrator's change through the API: the owner hears the password is no longer theirs.
  out << "password set for user " << user->id << "; their sessions have ended"
      << (keep_api_keys ? "" : " and their API keys are revoked")
      << c.notify(mail::Notice::PasswordChanged, *user, err) << "\n";
  return 0;
}

int userResetMfa(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                 const std::string& email, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  auto user = c.userByEmail(email, err);
  if (!user) return 1;
  // A notice goes only when a confirmed factor goes.
  if (user->mfa_enabled && !c.openMail(*user, err)) return 1;
  auto removed = c.mfa->reset(user->id, std::nullopt, c.client);
  if (!removed) return failure(err, describe(removed.error()));
  if (*removed == 0) {
    out << "user " << user->id << " had no second factor: nothing removed\n";
    return 0;
  }
  out << "second factors of user " << user->id << " removed; they sign in with the password"
      << c.notify(mail::Notice::FactorRemoved, *user, err) << "\n";
  return 0;
}

}  // namespace gatehouse::cli
