#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "auth/claims.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

namespace gatehouse::op {

inline constexpr std::string_view kGrantCode = "authorization_code";
inline constexpr std::string_view kGrantRefresh = "refresh_token";
inline constexpr std::string_view kGrantClientCredentials = "client_credentials";

// What an operator asks for (CLI `gatehouse client create`, POST /api/v1/clients). Empty lists
// and scope take the defaults: authorization_code (+ refresh_token for a confidential client)
// when redirect URIs are given, else client_credentials; the OpenID scopes for sign-in clients.
struct NewClient {
  std::string name;
  std::vector<std::string> redirect_uris;
  std::vector<std::string> post_logout_redirect_uris;
  std::vector<std::string> grant_types;
  std::optional<std::string> scope;
  bool is_public = false;
  bool first_party = false;
};

struct CreatedClient {
  store::OpClient client;
  std::string secret;  // shown once; empty for a public client
};

// How a request authenticated its client (RFC 6749 §2.3.1).
struct ClientCredentials {
  std::string client_id;
  std::optional<std::string> secret;
  bool basic = false;  // Authorization: Basic (client_secret_basic)
};

// The most clients one provider holds: the registry (and GET /api/v1/clients, which lists it
// whole) cannot grow without end, whoever holds clients:manage.
inline constexpr std::size_t kMaxClients = 1000;

// The registry of relying parties: validation, ids, secrets (high entropy, shown once, stored as
// an HMAC-SHA-256 under a server key: a fast keyed hash, so client authentication costs
// microseconds, unlike bcrypt; Hydra #1477), client authentication. Thread-safe.
class ClientRegistry {
 public:
  // `secret_key`: the key client secrets are hashed under. `scopes`: every scope a client may be
  // allowed (the OpenID ones and the RBAC permissions).
  ClientRegistry(store::OpStore& store, std::string secret_key, std::vector<std::string> scopes,
                 const core::Clock& clock, std::size_t max_clients = kMaxClients);

  // InvalidArgument (message: what is wrong, safe to show to the operator); ResourceExhausted
  // when the registry holds max_clients already (exactly: the store counts and inserts under one
  // lock).
  [[nodiscard]] core::Result<CreatedClient> create(const NewClient& request);
  [[nodiscard]] core::Result<std::vector<store::OpClient>> list();
  // For each stored client with a (post-logout) redirect URI that the rules refuse now (stored
  // before they grew: the provider does not follow it), "<client_id>: redirect URI <n> (<why>)"
  // (or post-logout URI), never the URI itself.
  [[nodiscard]] core::Result<std::vector<std::string>> urisRefusedNow();
  [[nodiscard]] core::Result<std::optional<store::OpClient>> find(std::string_view client_id);
  // With its consents, codes and live grants, and (the entry until `tokens_until`, which the
  // caller announces: RevocationList::announceClient) every access token it was issued, in one
  // transaction. How many grants ended; NotFound.
  [[nodiscard]] core::Result<std::int64_t> remove(std::string_view client_id,
                                                  std::int64_t tokens_until);
  // The new secret; NotFound, FailedPrecondition for a public client.
  [[nodiscard]] core::Result<std::string> rotateSecret(std::string_view client_id);
  // The client the credentials prove. Unauthenticated for an unknown client, a wrong or missing
  // secret, or a secret sent for a public client (the same answer, in comparable time);
  // Unavailable when storage is.
  [[nodiscard]] core::Result<store::OpClient> authenticate(const ClientCredentials& credentials);

  const std::vector<std::string>& scopes() const { return scopes_; }

 private:
  std::string hashSecret(std::string_view secret) const;

  store::OpStore& store_;
  std::string key_;
  std::vector<std::string> scopes_;
  const core::Clock& clock_;
  std::size_t max_clients_;
};

// Until when a deleted client's revocation-list entry stands: past the last access token it
// could have been issued (`access_ttl`, the deleting side's), with a day to spare for a node
// configured longer and a token issued while the deletion ran (a review). Entries are few.
inline std::int64_t clientTokensUntil(std::int64_t now, std::chrono::seconds access_ttl) {
  return now + access_ttl.count() + 24 * 60 * 60;
}

// ClientRegistry::remove on a store alone (the CLI has no registry key): the client found, its
// grants named by grantLabel, all ended with it in the store's one transaction.
[[nodiscard]] core::Result<std::int64_t> removeClient(store::OpStore& store,
                                                      std::string_view client_id,
                                                      std::int64_t tokens_until);

// What a grant of the client is called among its user's sessions (their user_agent): how the
// user's list shows it, and how the client's deletion finds its grants.
std::string grantLabel(const store::OpClient& client);

// The client as the API and the CLI show it (never its secret hash): client_id, name,
// redirect_uris, post_logout_redirect_uris, grant_types, scope, public, first_party, created_at
// (RFC 3339).
boost::json::object clientJson(const store::OpClient& client);
// Whether `scope` is one of the OpenID scopes (auth::isOpenIdScope): every other scope of a client
// is an RBAC permission.
using auth::isOpenIdScope;
// Every scope a client may be allowed: the OpenID ones and the policy's `permissions`.
std::vector<std::string> providerScopes(const std::vector<std::string>& permissions);
// Whether `client` may use `grant`.
bool allowsGrant(const store::OpClient& client, std::string_view grant);
// The client's scopes as a list.
std::vector<std::string> clientScopes(const store::OpClient& client);

}  // namespace gatehouse::op
