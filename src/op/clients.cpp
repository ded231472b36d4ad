#include "op/clients.hpp"

#include <algorithm>

#include <boost/json/array.hpp>

#include "auth/claims.hpp"
#include "core/base64url.hpp"
#include "core/utf8.hpp"
#include "crypto/digest.hpp"
#include "crypto/hmac.hpp"
#include "crypto/random.hpp"
#include "op/uris.hpp"

namespace gatehouse::op {
namespace {

using core::Errc;
using core::makeError;

constexpr std::size_t kMaxNameBytes = 100;
constexpr std::size_t kMaxUris = 20;
constexpr std::string_view kDefaultScope = "openid profile email offline_access";

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

core::Status checkUris(const std::vector<std::string>& uris, std::string_view what) {
  if (uris.size() > kMaxUris)
    return makeError(Errc::InvalidArgument, std::string(what) + ": at most 20");
  for (const auto& uri : uris) {
    if (auto problem = redirectUriProblem(uri))
      return makeError(Errc::InvalidArgument, std::string(what) + " " + uri + ": " + *problem);
  }
  return {};
}

// A client id is typed on command lines (`gatehouse client rotate-secret ID`), where one that
// begins with '-' reads as an option. One draw in 64 would; it is drawn again instead, which
// leaves the id uniform over the remaining ids and costs under 0.03 bits.
core::Result<std::string> newClientId() {
  for (int attempt = 0; attempt < 32; ++attempt) {
    auto id = crypto::randomToken(16);
    if (!id || id->front() != '-') return id;
  }
  return makeError(Errc::Internal, "the random source keeps giving ids that begin with '-'");
}

}  // namespace

boost::json::object clientJson(const store::OpClient& c) {
  const auto texts = [](const std::vector<std::string>& items) {
    boost::json::array out;
    for (const auto& item : items) out.emplace_back(item);
    return out;
  };
  return {{"client_id", c.client_id},
          {"name", c.name},
          {"redirect_uris", texts(c.redirect_uris)},
          {"post_logout_redirect_uris", texts(c.post_logout_redirect_uris)},
          {"grant_types", texts(c.grant_types)},
          {"scope", c.scope},
          {"public", c.is_public},
          {"first_party", c.first_party},
          {"created_at", core::rfc3339(c.created_at)}};
}

std::vector<std::string> providerScopes(const std::vector<std::string>& permissions) {
  std::vector<std::string> out{"openid", "profile", "email", "offline_access"};
  out.insert(out.end(), permissions.begin(), permissions.end());
  return out;
}

bool allowsGrant(const store::OpClient& client, std::string_view grant) {
  return contains(client.grant_types, grant);
}

std::vector<std::string> clientScopes(const store::OpClient& client) {
  return auth::splitScopes(client.scope);
}

ClientRegistry::ClientRegistry(store::OpStore& store, std::string secret_key,
                               std::vector<std::string> scopes, const core::Clock& clock,
                               std::size_t max_clients)
    : store_(store),
      key_(std::move(secret_key)),
      scopes_(std::move(scopes)),
      clock_(clock),
      max_clients_(max_clients) {}

std::string ClientRegistry::hashSecret(std::string_view secret) const {
  auto mac = crypto::hmac(crypto::Digest::Sha256, key_, secret);
  return mac ? core::hexEncode(*mac) : std::string();
}

core::Result<CreatedClient> ClientRegistry::create(const NewClient& r) {
  if (r.name.empty() || r.name.size() > kMaxNameBytes)
    return makeError(Errc::InvalidArgument, "name: 1 to 100 bytes");
  // The consent page shows the name: text without the characters that reorder or hide it, so it
  // reads as it is.
  if (auto problem = core::displayTextProblem(r.name))
    return makeError(Errc::InvalidArgument, "name: " + std::string(*problem));
  if (auto ok = checkUris(r.redirect_uris, "redirect URI"); !ok) return tl::unexpected(ok.error());
  if (auto ok = checkUris(r.post_logout_redirect_uris, "post-logout redirect URI"); !ok)
    return tl::unexpected(ok.error());
  store::OpClient c;
  c.name = r.name;
  c.redirect_uris = r.redirect_uris;
  c.post_logout_redirect_uris = r.post_logout_redirect_uris;
  c.is_public = r.is_public;
  c.first_party = r.first_party;
  c.grant_types = r.grant_types;
  if (c.grant_types.empty()) {
    if (c.redirect_uris.empty()) {
      c.grant_types = {std::string(kGrantClientCredentials)};
    } else {
      c.grant_types = {std::string(kGrantCode)};
      if (!c.is_public) c.grant_types.emplace_back(kGrantRefresh);
    }
  }
  for (const auto& g : c.grant_types) {
    if (g != kGrantCode && g != kGrantRefresh && g != kGrantClientCredentials)
      return makeError(
          Errc::InvalidArgument,
          "grant " + g + ": one of authorization_code, refresh_token, client_credentials");
    if (std::count(c.grant_types.begin(), c.grant_types.end(), g) > 1)
      return makeError(Errc::InvalidArgument, "grant " + g + " named twice");
  }
  const bool code = allowsGrant(c, kGrantCode);
  if (code && c.redirect_uris.empty())
    return makeError(Errc::InvalidArgument, "authorization_code needs a redirect URI");
  if (!code && !c.redirect_uris.empty())
    return makeError(Errc::InvalidArgument, "redirect URIs are only for authorization_code");
  if (!code && allowsGrant(c, kGrantRefresh))
    return makeError(Errc::InvalidArgument, "refresh_token needs authorization_code");
  if (c.is_public && allowsGrant(c, kGrantClientCredentials))
    return makeError(Errc::InvalidArgument, "a public client cannot use client_credentials");
  if (!code && !c.post_logout_redirect_uris.empty())
    return makeError(Errc::InvalidArgument,
                     "post-logout redirect URIs are only for authorization_code");
  const std::string scope = r.scope.value_or(code ? std::string(kDefaultScope) : std::string());
  const auto items = auth::splitScopes(scope);
  for (const auto& s : items) {
    if (!contains(scopes_, s)) return makeError(Errc::InvalidArgument, "unknown scope " + s);
    if (!code && (s == "openid" || s == "offline_access"))
      return makeError(Errc::InvalidArgument, s + " is only for authorization_code");
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    c.scope += (i == 0 ? "" : " ") + items[i];
  }
  c.created_at = clock_.unixSeconds();
  auto id = newClientId();
  if (!id) return tl::unexpected(id.error());
  c.client_id = *id;
  std::string secret;
  if (!c.is_public) {
    auto made = crypto::randomToken(32);
    if (!made) return tl::unexpected(made.error());
    secret = std::move(*made);
    c.secret_hash = hashSecret(secret);
    if (c.secret_hash.empty()) return makeError(Errc::Internal, "hashing the client secret");
    c.secret_rotated_at = c.created_at;
  }
  // The store counts and inserts under one lock: racing creations never pass the cap together.
  auto stored = store_.createClient(c, max_clients_);
  if (!stored && stored.error().code == Errc::ResourceExhausted)
    return makeError(Errc::ResourceExhausted, "the provider holds " + std::to_string(max_clients_) +
                                                  " clients, the most it keeps: delete one first");
  if (!stored) return tl::unexpected(stored.error());
  return CreatedClient{std::move(*stored), std::move(secret)};
}

core::Result<std::vector<store::OpClient>> ClientRegistry::list() { return store_.listClients(); }

core::Result<std::vector<std::string>> ClientRegistry::urisRefusedNow() {
  auto clients = list();
  if (!clients) return tl::unexpected(clients.error());
  std::vector<std::string> out;
  for (const auto& c : *clients) {
    for (const auto& [uris, kind] : {std::pair{&c.redirect_uris, "redirect URI"},
                                     std::pair{&c.post_logout_redirect_uris, "post-logout URI"}}) {
      for (std::size_t i = 0; i < uris->size(); ++i) {
        // Named by its place, not spelled out: a refused one may hold a password (userinfo) or a
        // fixed code (a review), and logs travel further than `client list`.
        if (auto problem = redirectUriProblem((*uris)[i]))
          out.push_back(c.client_id + ": " + kind + " " + std::to_string(i + 1) + " (" + *problem +
                        ")");
      }
    }
  }
  return out;
}

namespace {

// An id no client can have (a NUL, invalid UTF-8) is nobody's, not a database error: a 500 from
// /oauth2/authorize before anyone signed in (found by a review).
core::Result<std::optional<store::OpClient>> findIn(store::OpStore& store,
                                                    std::string_view client_id) {
  if (client_id.empty() || client_id.size() > 128 || !core::isStorableText(client_id))
    return std::optional<store::OpClient>{};
  return store.findClient(client_id);
}

}  // namespace

core::Result<std::optional<store::OpClient>> ClientRegistry::find(std::string_view client_id) {
  return findIn(store_, client_id);
}

core::Result<std::int64_t> ClientRegistry::remove(std::string_view client_id,
                                                  std::int64_t tokens_until) {
  return removeClient(store_, client_id, tokens_until);
}

core::Result<std::int64_t> removeClient(store::OpStore& store, std::string_view client_id,
                                        std::int64_t tokens_until) {
  auto client = findIn(store, client_id);
  if (!client) return tl::unexpected(client.error());
  if (!*client) return makeError(Errc::NotFound, "client");
  return store.removeClient(client_id, grantLabel(**client), tokens_until);
}

std::string grantLabel(const store::OpClient& client) {
  return "OpenID client: " + client.name + " (" + client.client_id + ")";
}

core::Result<std::string> ClientRegistry::rotateSecret(std::string_view client_id) {
  auto secret = crypto::randomToken(32);
  if (!secret) return tl::unexpected(secret.error());
  const std::string hash = hashSecret(*secret);
  if (hash.empty()) return makeError(Errc::Internal, "hashing the client secret");
  if (auto ok = store_.setClientSecret(client_id, hash, clock_.unixSeconds()); !ok)
    return tl::unexpected(ok.error());
  return std::move(*secret);
}

core::Result<store::OpClient> ClientRegistry::authenticate(const ClientCredentials& cred) {
  auto found = find(cred.client_id);
  if (!found) return tl::unexpected(found.error());
  // An unknown client costs one HMAC as a known one does.
  const std::string presented = hashSecret(cred.secret.value_or(""));
  if (!*found) return makeError(Errc::Unauthenticated, "unknown client");
  const store::OpClient& c = **found;
  if (c.is_public) {
    if (cred.secret) return makeError(Errc::Unauthenticated, "a secret for a public client");
    return c;
  }
  if (!cred.secret) return makeError(Errc::Unauthenticated, "no client secret");
  if (c.secret_hash.empty() || !crypto::constantTimeEquals(presented, c.secret_hash))
    return makeError(Errc::Unauthenticated, "wrong client secret");
  return c;
}

}  // namespace gatehouse::op
