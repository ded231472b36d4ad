#include "cli/client_commands.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "cli/context.hpp"

namespace gatehouse::cli {
namespace {

namespace json = boost::json;

int failure(std::ostream& err, const core::Error& e, int code = 1) {
  err << "gatehouse: " << e.message << "\n";
  return code;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : " ") + s;
  return out;
}

void audit(Context& c, std::string type, const std::string& client_id, json::object detail = {}) {
  detail["client_id"] = client_id;
  detail["actor"] = c.client.actor_name;
  c.audit->record({std::move(type), c.client.request_id, std::nullopt, std::nullopt, c.client.ip,
                   c.client.user_agent, std::move(detail)});
}

}  // namespace

int clientCreate(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                 const std::string& secret_key, const op::NewClient& request, bool as_json,
                 std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  op::ClientRegistry registry(c.store->op(), secret_key,
                              op::providerScopes(policy.allPermissions()), c.clock);
  auto created = registry.create(request);
  if (!created)
    return failure(err, created.error(),
                   created.error().code == core::Errc::InvalidArgument ? 2 : 1);
  audit(c, "client.created", created->client.client_id);
  if (as_json) {
    json::object o = op::clientJson(created->client);
    if (!created->secret.empty()) o["client_secret"] = created->secret;
    out << json::serialize(o) << "\n";
  } else {
    out << "client_id: " << created->client.client_id << "\n";
    if (!created->secret.empty()) out << "client_secret: " << created->secret << "\n";
  }
  err << "created client " << created->client.name << " (" << joined(created->client.grant_types)
      << ")" << (created->secret.empty() ? "" : "; its secret is shown only now") << "\n";
  return 0;
}

int clientList(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
               bool as_json, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  auto clients = c.store->op().listClients();
  if (!clients) return failure(err, clients.error());
  if (as_json) {
    json::array items;
    for (const auto& client : *clients) items.push_back(op::clientJson(client));
    out << json::serialize(json::object{{"items", std::move(items)}}) << "\n";
    return 0;
  }
  out << "client_id\tname\ttype\tgrants\tredirect_uris\n";
  for (const auto& client : *clients) {
    out << client.client_id << "\t" << client.name << "\t"
        << (client.is_public ? "public" : "confidential")
        << (client.first_party ? ",first-party" : "") << "\t" << joined(client.grant_types) << "\t"
        << joined(client.redirect_uris) << "\n";
  }
  return 0;
}

int clientDelete(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
                 const std::string& client_id, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  // As the API's deletion (op::Provider::removeClient): its grants and access tokens end with it.
  // This process has no bus: a running server reads the entry within 30 s (app/janitor.hpp).
  // (ACCESS_TOKEN_EXPIRE_MINUTES: in minutes; a review found it counted as seconds here.)
  const std::int64_t until = op::clientTokensUntil(c.clock.unixSeconds(), config.access_token_ttl);
  auto ended = op::removeClient(c.store->op(), client_id, until);
  if (!ended) {
    if (ended.error().code != core::Errc::NotFound) return failure(err, ended.error());
    err << "gatehouse: no client " << client_id << "\n";
    return 2;
  }
  audit(c, "client.deleted", client_id, {{"grants_ended", *ended}});
  out << "deleted client " << client_id << "; " << *ended
      << " grants ended; its access tokens stop within 30 s\n";
  return 0;
}

int clientRotateSecret(const config::Config& config, const rbac::Policy& policy,
                       const KeyAccess& access, const std::string& secret_key,
                       const std::string& client_id, bool as_json, std::ostream& out,
                       std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  op::ClientRegistry registry(c.store->op(), secret_key,
                              op::providerScopes(policy.allPermissions()), c.clock);
  auto secret = registry.rotateSecret(client_id);
  if (!secret) {
    if (secret.error().code == core::Errc::NotFound) {
      err << "gatehouse: no client " << client_id << "\n";
      return 2;
    }
    if (secret.error().code == core::Errc::FailedPrecondition) {
      err << "gatehouse: client " << client_id << " is public: it has no secret\n";
      return 2;
    }
    return failure(err, secret.error());
  }
  audit(c, "client.secret_rotated", client_id);
  if (as_json) {
    out << json::serialize(json::object{{"client_id", client_id}, {"client_secret", *secret}})
        << "\n";
  } else {
    out << "client_id: " << client_id << "\nclient_secret: " << *secret << "\n";
  }
  err << "the old secret no longer works; the new one is shown only now\n";
  return 0;
}

}  // namespace gatehouse::cli
