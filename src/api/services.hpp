#pragma once

#include <string>

#include "auth/auth_service.hpp"
#include "auth/user_service.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "metrics/metrics.hpp"

namespace gatehouse::api {

// What the handlers call; built by the composition root (app/).
struct Services {
  auth::AuthService& auth;
  auth::UserService& users;
  const auth::TokenService& tokens;
  store::Store& store;
  const rbac::Policy& policy;
  metrics::Registry& metrics;
  std::string public_url;  // base URL for discovery documents
};

// The request's origin for sessions and audit events.
auth::ClientInfo clientOf(const http::Request& request);

// The one place auth errors become HTTP responses (API.md messages); the detail is logged with
// the request id and never sent.
http::Response errorResponse(const auth::Error& error, const http::Request& request);

// Authenticates the request's bearer token: the principal, or the 401/403 response to send.
tl::expected<auth::Principal, http::Response> authenticate(Services& s,
                                                           const http::Request& request);

// 403 {"detail": "Insufficient permissions"} unless the principal holds every permission.
std::optional<http::Response> requirePermissions(const auth::Principal& who,
                                                 const std::vector<std::string>& permissions,
                                                 const http::Request& request);

// Registers each resource's routes.
void addAuthRoutes(http::Router& router, Services& s);
void addUserRoutes(http::Router& router, Services& s);
void addDiscoveryRoutes(http::Router& router, Services& s);
void addAuditRoutes(http::Router& router, Services& s);

// The User object of API.md (never a hash or secret).
boost::json::object userJson(const store::User& user);
// TokenPair with Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1).
http::Response tokenResponse(int status, const auth::TokenPair& pair);

}  // namespace gatehouse::api
