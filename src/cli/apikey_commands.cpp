#include "cli/apikey_commands.hpp"

#include "auth/api_keys.hpp"
#include "cli/context.hpp"

namespace gatehouse::cli {
namespace {

int failure(std::ostream& err, const std::string& why) {
  err << "gatehouse: " << why << "\n";
  return 1;
}

}  // namespace

int apiKeyCreate(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                 const ApiKeyCreate& args, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  auto owner = c.userByEmail(args.email, err);
  if (!owner) return 1;
  auth::NewApiKey request{args.name, std::nullopt, args.expires_in_days};
  if (!args.scopes.empty()) request.scopes = args.scopes;
  auto created =
      c.keys->create(*owner, policy.permissionsOf(owner->role), request, std::nullopt, c.client);
  if (!created) return failure(err, describe(created.error()));
  out << created->plaintext << "\n";
  err << "created API key " << created->key.id << " (" << auth::kApiKeyPrefix
      << created->key.public_id << "); it is shown only now\n";
  return 0;
}

int apiKeyList(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
               const std::string& email, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  auto owner = c.userByEmail(email, err);
  if (!owner) return 1;
  auto keys = c.keys->list(owner->id);
  if (!keys) return failure(err, describe(keys.error()));
  out << "id\tname\tprefix\tscopes\n";
  for (const auto& k : *keys) {
    std::string scopes;
    for (const auto& s : k.scopes) scopes += (scopes.empty() ? "" : " ") + s;
    out << k.id << "\t" << k.name << "\t" << auth::kApiKeyPrefix << k.public_id << "\t" << scopes
        << "\n";
  }
  return 0;
}

int apiKeyRevoke(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                 const std::string& email, std::int64_t id, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  auto owner = c.userByEmail(email, err);
  if (!owner) return 1;
  if (auto ok = c.keys->revoke(owner->id, id, c.client); !ok) {
    return failure(err, ok.error().code == auth::Errc::ApiKeyNotFound
                            ? "no live API key " + std::to_string(id) + " for " + email
                            : describe(ok.error()));
  }
  out << "revoked API key " << id << "\n";
  return 0;
}

}  // namespace gatehouse::cli
