#include "cli/apikey_commands.hpp"

#include "auth/api_keys.hpp"
#include "cli/database.hpp"
#include "store/store.hpp"

namespace gatehouse::cli {
namespace {

// Everything an ApiKeyService needs, opened against the configured database.
struct Context {
  std::unique_ptr<store::Store> store;
  core::SystemClock clock;
  std::unique_ptr<auth::UserCache> cache;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<auth::ApiKeyService> keys;
  std::optional<store::User> owner;
};

int failure(std::ostream& err, const std::string& why) {
  err << "gatehouse: " << why << "\n";
  return 1;
}

bool open(Context& c, const config::Config& config, const rbac::Policy& policy,
          const std::string& email, std::ostream& err) {
  c.store = openExisting(config, err);
  if (!c.store) return false;
  auto user = c.store->users().findByEmail(email);
  if (!user) return failure(err, user.error().message), false;
  if (!*user) return failure(err, "no user with email " + email), false;
  c.owner = **user;
  c.cache = std::make_unique<auth::UserCache>(c.store->users());
  c.audit = std::make_unique<audit::AuditLog>(c.store->audit(), c.clock, config.audit_log_file);
  c.keys = std::make_unique<auth::ApiKeyService>(*c.store, policy, *c.cache, *c.audit, c.clock);
  return true;
}

const auth::ClientInfo kCli{"", "gatehouse-cli", "cli"};

}  // namespace

int apiKeyCreate(const config::Config& config, const rbac::Policy& policy, const ApiKeyCreate& args,
                 std::ostream& out, std::ostream& err) {
  Context c;
  if (!open(c, config, policy, args.email, err)) return 1;
  auth::NewApiKey request{args.name, std::nullopt, args.expires_in_days};
  if (!args.scopes.empty()) request.scopes = args.scopes;
  auto created = c.keys->create(*c.owner, policy.permissionsOf(c.owner->role), request, kCli);
  if (!created) {
    std::string why = created.error().detail;
    for (const auto& f : created.error().fields) why += "; " + f.msg;
    return failure(err, why);
  }
  out << created->plaintext << "\n";
  err << "created API key " << created->key.id << " (" << auth::kApiKeyPrefix
      << created->key.public_id << "); it is shown only now\n";
  return 0;
}

int apiKeyList(const config::Config& config, const rbac::Policy& policy, const std::string& email,
               std::ostream& out, std::ostream& err) {
  Context c;
  if (!open(c, config, policy, email, err)) return 1;
  auto keys = c.keys->list(c.owner->id);
  if (!keys) return failure(err, keys.error().detail);
  out << "id\tname\tprefix\tscopes\n";
  for (const auto& k : *keys) {
    std::string scopes;
    for (const auto& s : k.scopes) scopes += (scopes.empty() ? "" : " ") + s;
    out << k.id << "\t" << k.name << "\t" << auth::kApiKeyPrefix << k.public_id << "\t" << scopes
        << "\n";
  }
  return 0;
}

int apiKeyRevoke(const config::Config& config, const rbac::Policy& policy, const std::string& email,
                 std::int64_t id, std::ostream& out, std::ostream& err) {
  Context c;
  if (!open(c, config, policy, email, err)) return 1;
  if (auto ok = c.keys->revoke(c.owner->id, id, kCli); !ok)
    return failure(err, "no live API key " + std::to_string(id) + " for " + email);
  out << "revoked API key " << id << "\n";
  return 0;
}

}  // namespace gatehouse::cli
