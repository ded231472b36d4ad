// The OpenID Provider's client registry for administrators (API.md: /api/v1/clients,
// clients:manage), the same as `gatehouse client ...`.
#include <algorithm>

#include <boost/json/array.hpp>

#include "api/body.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "auth/claims.hpp"
#include "op/provider.hpp"
#include "rbac/policy.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;
using http::Lane;

http::Response storeError(const core::Error& e, const http::Request& r) {
  const auth::Errc code =
      e.code == core::Errc::Unavailable ? auth::Errc::Unavailable : auth::Errc::Internal;
  return errorResponse({code, e.message, {}, 0}, r);
}

void audit(Call& c, std::string type, const std::string& client_id,
           boost::json::object detail = {}) {
  // Through auth::auditEvent, as every other record: a key's doing carries its api_key_id.
  detail["client_id"] = client_id;
  c.services.audit.record(auth::auditEvent(std::move(type), clientOf(c.request), c.who->user->id,
                                           std::nullopt, std::move(detail)));
}

// No one acts above their own rights. A client's RBAC scopes are rights its tokens carry: its
// client_credentials tokens hold them, and a user's token through it holds them as far as the user
// does. So a caller registers, rotates the secret of or deletes only a client whose permissions
// they hold, and registers a first-party client (no user is asked to consent to it), or takes
// one's secret, only holding every permission, as an admin does. Found by an outside attack: an
// API key scoped to clients:manage alone registered a first-party client with every permission,
// and one link an admin followed gave it the admin's token.
std::optional<std::string> permissionNotHeld(const Call& c, std::string_view scope) {
  for (const auto& s : auth::splitScopes(scope)) {
    if (op::isOpenIdScope(s) || rbac::allows(c.who->permissions, {s})) continue;
    // A permission the policy no longer has grants nothing and no one holds it: it does not stop
    // an admin from rotating or deleting the client (a new client cannot name it).
    if (c.services.policy.hasPermission(s)) return s;
  }
  return std::nullopt;
}

bool holdsEveryPermission(const Call& c) {
  return rbac::allows(c.who->permissions, c.services.policy.allPermissions());
}

// Two kinds of client are credentials that last on their own, past their registrar's password
// change, API-key revocation, deactivation and deletion: a client_credentials client whose scope
// holds permissions (its tokens carry them), and a first-party client (no one is asked to consent:
// one link a signed-in administrator follows, or a `prompt=none` redirect, hands it their token).
// Registering one, or taking a new secret of one, needs the caller's own recent sign-in (step-up:
// 401), never an API key or an OpenID client's token (403): a stolen stale token, a key, or a
// client's token holding clients:manage minted a credential that outlived its own end (found by
// outside attacks, the first-party one at stop 60). Nullopt: the caller may.
std::optional<http::Response> lastingCredentialRefused(Call& c,
                                                       const std::vector<std::string>& grants,
                                                       std::string_view scope, bool first_party) {
  const bool machine = [&] {
    if (std::find(grants.begin(), grants.end(), op::kGrantClientCredentials) == grants.end())
      return false;
    const auto scopes = auth::splitScopes(scope);
    return !std::all_of(scopes.begin(), scopes.end(),
                        [](const std::string& s) { return op::isOpenIdScope(s); });
  }();
  if (!machine && !first_party) return std::nullopt;
  if (c.who->api_key_id)
    return errorResponse(
        {auth::Errc::Forbidden, "an API key cannot mint a lasting client credential", {}, 0},
        c.request);
  if (!c.who->client_id.empty())
    return errorResponse({auth::Errc::Forbidden,
                          "an OpenID client's token cannot mint a lasting client credential",
                          {},
                          0},
                         c.request);
  if (auto fresh = c.services.token_check.stepUp(*c.who, c.services.step_up_max_age); !fresh)
    return errorResponse(fresh.error(), c.request);
  return std::nullopt;
}

// The client `c` names, if the caller may manage it: else the response (404, 403).
std::variant<store::OpClient, http::Response> manageable(Call& c) {
  const std::string& id = c.request.path_params.at("client_id");
  auto client = c.services.provider->clients().find(id);
  if (!client) return storeError(client.error(), c.request);
  if (!*client) return http::Response::detail(404, "Client not found");
  std::string refused;
  if (auto missing = permissionNotHeld(c, (*client)->scope)) {
    refused = "the client holds " + *missing + ", which the caller does not";
  } else if ((*client)->first_party && !holdsEveryPermission(c)) {
    refused = "a first-party client needs every permission";
  }
  if (!refused.empty()) return errorResponse({auth::Errc::Forbidden, refused, {}, 0}, c.request);
  return std::move(**client);
}

http::Response list(Call& c) {
  auto clients = c.services.provider->clients().list();
  if (!clients) return storeError(clients.error(), c.request);
  json::array items;
  for (const auto& client : *clients) items.push_back(op::clientJson(client));
  return http::Response::json(200, json::object{{"items", std::move(items)}});
}

http::Response create(Call& c) {
  Body& body = *c.body;
  body.forbidOthers({"name", "redirect_uris", "post_logout_redirect_uris", "grant_types", "scope",
                     "public", "first_party"});
  op::NewClient request{
      body.requiredString("name"),
      body.optionalStringList("redirect_uris").value_or(std::vector<std::string>{}),
      body.optionalStringList("post_logout_redirect_uris").value_or(std::vector<std::string>{}),
      body.optionalStringList("grant_types").value_or(std::vector<std::string>{}),
      body.optionalString("scope"),
      body.optionalBool("public").value_or(false),
      body.optionalBool("first_party").value_or(false)};
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = c.admit()) return std::move(*refused);
  if (auto missing = permissionNotHeld(c, request.scope.value_or(""))) {
    return validationError({{{"body", "scope"},
                             "scope not among your permissions: " + *missing,
                             "value_error.scope"}});
  }
  if (request.first_party && !holdsEveryPermission(c))
    return errorResponse({auth::Errc::Forbidden, "first_party needs every permission", {}, 0},
                         c.request);
  // The grants as the registry defaults them (op::NewClient).
  std::vector<std::string> grants = request.grant_types;
  if (grants.empty() && request.redirect_uris.empty())
    grants.emplace_back(op::kGrantClientCredentials);
  if (auto refused =
          lastingCredentialRefused(c, grants, request.scope.value_or(""), request.first_party))
    return std::move(*refused);
  auto created = c.services.provider->clients().create(request);
  if (!created) {
    if (created.error().code == core::Errc::InvalidArgument)
      return validationError({{{"body"}, created.error().message, "value_error"}});
    if (created.error().code == core::Errc::ResourceExhausted)
      return http::Response::detail(409, "Client limit reached");
    return storeError(created.error(), c.request);
  }
  audit(c, "client.created", created->client.client_id);
  json::object out = op::clientJson(created->client);
  if (!created->secret.empty()) out["client_secret"] = created->secret;
  http::Response res = http::Response::json(201, out);
  res.set("Cache-Control", "no-store");
  return res;
}

http::Response remove(Call& c) {
  auto client = manageable(c);
  if (auto* refused = std::get_if<http::Response>(&client)) return std::move(*refused);
  const std::string& id = std::get<store::OpClient>(client).client_id;
  auto ended = c.services.provider->removeClient(id);
  if (!ended) {
    if (ended.error().code == core::Errc::NotFound)
      return http::Response::detail(404, "Client not found");
    return storeError(ended.error(), c.request);
  }
  audit(c, "client.deleted", id, {{"grants_ended", *ended}});
  return http::Response::empty(204);
}

http::Response rotate(Call& c) {
  auto client = manageable(c);
  if (auto* refused = std::get_if<http::Response>(&client)) return std::move(*refused);
  const store::OpClient& held = std::get<store::OpClient>(client);
  if (auto refused = lastingCredentialRefused(c, held.grant_types, held.scope, held.first_party))
    return std::move(*refused);
  const std::string& id = held.client_id;
  auto secret = c.services.provider->clients().rotateSecret(id);
  if (!secret) {
    if (secret.error().code == core::Errc::NotFound)
      return http::Response::detail(404, "Client not found");
    if (secret.error().code == core::Errc::FailedPrecondition)
      return http::Response::detail(409, "A public client has no secret");
    return storeError(secret.error(), c.request);
  }
  audit(c, "client.secret_rotated", id);
  http::Response res =
      http::Response::json(200, json::object{{"client_id", id}, {"client_secret", *secret}});
  res.set("Cache-Control", "no-store");
  return res;
}

// No provider on this node (its MFA_SECRET_KEY does not open the provider's key): 503.
RouteHandler needsProvider(RouteHandler handler) {
  return [handler = std::move(handler)](Call& c) {
    if (c.services.provider != nullptr) return handler(c);
    return errorResponse({auth::Errc::Unavailable, "no OpenID Provider on this node", {}, 0},
                         c.request);
  };
}

}  // namespace

void addClientRoutes(RouteTable& t) {
  t.add({.method = "GET",
         .path = "/api/v1/clients",
         .credential = Credential::TokenOrKey,
         .permissions = {"clients:manage"},
         .lane = Lane::Storage,
         .summary = "The OpenID Provider's registered clients",
         .tag = "clients",
         .replies = {{200, "Clients (never their secrets)", "OpClientList"}},
         .handler = needsProvider(list)});
  t.add({.method = "POST",
         .path = "/api/v1/clients",
         .credential = Credential::TokenOrKey,
         .permissions = {"clients:manage"},
         .lane = Lane::Storage,
         .summary = "Register a client; a confidential client's secret is shown once",
         .tag = "clients",
         .description =
             "Redirect URIs match exactly: https, http only to localhost/127.0.0.1/[::1], or a "
             "private-use scheme (RFC 8252). Without grant_types: authorization_code and "
             "refresh_token when redirect URIs are given (authorization_code alone for a public "
             "client), else client_credentials. The scope's permissions must be the caller's "
             "own (else 422), and first_party needs every permission (else 403). A "
             "first-party client, or a client_credentials client whose scope holds permissions, "
             "needs a user token with step-up (401; an API key or an OpenID client's token: "
             "403). The provider holds at most 1000 clients (else 409); "
             "registrations count against ACCOUNT_CHANGE_RATE_LIMIT per account.",
         .body = BodyKind::Json,
         .body_schema = "OpClientCreate",
         .replies = {{201, "The client, with client_secret when confidential", "OpClient"},
                     {409, "Client limit reached", "ErrorDetail"}},
         // Each deletion leaves a revocation-list entry for a day on every node: registering and
         // deleting in a loop would grow that list without bound (found by the session's own
         // second read). Deletion itself stays unlimited (a compromised client goes at once).
         .limits = {kAccountChangeLimit},
         .handler = needsProvider(create)});
  t.add({.method = "DELETE",
         .path = "/api/v1/clients/{client_id}",
         .credential = Credential::TokenOrKey,
         .permissions = {"clients:manage"},
         .lane = Lane::Storage,
         .summary = "Delete a client, ending its grants and tokens",
         .tag = "clients",
         .description = "Its consents and unused codes go with it, its users' grants end, and "
                        "every access token it was issued stops at once, on every node. Only a "
                        "client whose permissions the caller holds, and a first-party client only "
                        "by a caller holding every permission (else 403).",
         .replies = {{204, "Deleted", ""}, {404, "Client not found", "ErrorDetail"}},
         .handler = needsProvider(remove)});
  t.add({.method = "POST",
         .path = "/api/v1/clients/{client_id}/secret",
         .credential = Credential::TokenOrKey,
         .permissions = {"clients:manage"},
         .lane = Lane::Storage,
         .summary = "Rotate a confidential client's secret (the old one stops working)",
         .tag = "clients",
         .description = "Only a client whose permissions the caller holds, and a first-party "
                        "client only by a caller holding every permission (else 403). A "
                        "first-party client, or a client_credentials client whose scope holds "
                        "permissions: a user token with step-up only (401; an API key or an "
                        "OpenID client's token: 403).",
         .replies = {{200, "The new secret, shown once", "OpClientSecret"},
                     {404, "Client not found", "ErrorDetail"},
                     {409, "A public client has no secret", "ErrorDetail"}},
         .handler = needsProvider(rotate)});
}

}  // namespace gatehouse::api
