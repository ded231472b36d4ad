// Operations and discovery, no prefix (API.md, Discovery and operations).
#include <boost/json/value_from.hpp>

#include "api/route.hpp"
#include "api/services.hpp"

namespace gatehouse::api {
namespace {

using http::Lane;

http::Response health(Call&) {
  return http::Response::json(200, boost::json::object{{"status", "ok"}});
}

http::Response ready(Call& c) {
  Services& s = c.services;
  if (auto ok = s.store.ping(); !ok) {
    return errorResponse({auth::Errc::Unavailable, ok.error().message, {}}, c.request);
  }
  if (s.bus != nullptr && !s.bus->live()) {
    return errorResponse({auth::Errc::Unavailable, "Redis notifications down", {}}, c.request);
  }
  return http::Response::json(200, boost::json::object{{"status", "ready"}});
}

http::Response jwks(Call& c) {
  auto keys = c.services.tokens.keys().toPublicJwks();
  if (!keys) return errorResponse({auth::Errc::Internal, keys.error().message, {}}, c.request);
  auto res = http::Response::json(200, *keys);
  res.set("Cache-Control", "public, max-age=300");
  return res;
}

http::Response openidConfiguration(Call& c) {
  Services& s = c.services;
  const std::string& base = s.public_url;
  boost::json::array algs;
  for (const auto& k : s.tokens.keys().keys())
    algs.emplace_back(jose::algorithmName(k.algorithm()));
  return http::Response::json(
      200, boost::json::object{
               {"issuer", s.tokens.settings().issuer},
               {"jwks_uri", base + "/.well-known/jwks.json"},
               {"token_endpoint", base + "/api/v1/auth/login"},
               {"revocation_endpoint", base + "/api/v1/auth/revoke"},
               {"introspection_endpoint", base + "/api/v1/auth/introspect"},
               {"userinfo_endpoint", base + "/api/v1/auth/me"},
               // /api/v1/auth/login takes both grants.
               {"grant_types_supported", boost::json::array{"password", "refresh_token"}},
               {"token_endpoint_auth_methods_supported", boost::json::array{"none"}},
               {"response_types_supported", boost::json::array{"token"}},
               {"scopes_supported", boost::json::value_from(s.policy.allPermissions())},
               {"token_signing_alg_values_supported", std::move(algs)},
           });
}

}  // namespace

void addDiscoveryRoutes(RouteTable& t) {
  t.add({.method = "GET",
         .path = "/healthz",
         .credential = Credential::None,
         .lane = Lane::Inline,
         .summary = "Liveness",
         .tag = "operations",
         .replies = {{200, "Alive", "Health"}},
         .handler = health});
  t.add({.method = "GET",
         .path = "/readyz",
         .credential = Credential::None,
         .lane = Lane::Storage,
         .summary = "Readiness: storage reachable (and Redis heard, with several nodes)",
         .tag = "operations",
         .replies = {{200, "Ready", "Health"}, {503, "Not ready", "ErrorDetail"}},
         .handler = ready});
  t.add({.method = "GET",
         .path = "/.well-known/jwks.json",
         .credential = Credential::None,
         .lane = Lane::Inline,
         .summary = "Public keys that verify Gatehouse's tokens (empty for HS*)",
         .tag = "discovery",
         .replies = {{200, "JWK set", "Jwks"}},
         .handler = jwks});
  t.add({.method = "GET",
         .path = "/.well-known/openid-configuration",
         .credential = Credential::None,
         .lane = Lane::Inline,
         .summary = "Discovery document",
         .tag = "discovery",
         .replies = {{200, "Endpoints and capabilities", "Discovery"}},
         .handler = openidConfiguration});
}

}  // namespace gatehouse::api
