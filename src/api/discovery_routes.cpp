// Operations and discovery, no prefix (API.md, Discovery and operations).
#include <boost/json/value_from.hpp>

#include "api/route.hpp"
#include "api/services.hpp"
#include "op/provider.hpp"

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
  if (s.stands_aside && s.stands_aside()) {
    // Not an outage, and said in the log once, when it began: a balancer probing twice a second
    // filled the log with "storage unavailable" errors (a review).
    auto r = http::Response::detail(503, "Service Unavailable");
    r.set("Retry-After", "1");
    return r;
  }
  return http::Response::json(200, boost::json::object{{"status", "ready"}});
}

http::Response jwks(Call& c) {
  auto keys = c.services.tokens.keys().toPublicJwks();
  if (!keys) return errorResponse({auth::Errc::Internal, keys.error().message, {}}, c.request);
  // The provider's keys (ID tokens, RFC 9068 access tokens) beside the API's.
  if (c.services.provider != nullptr) {
    auto op_keys = c.services.provider->tokens().keys().toPublicJwks();
    if (!op_keys)
      return errorResponse({auth::Errc::Internal, op_keys.error().message, {}}, c.request);
    auto& list = (*keys)["keys"].as_array();
    for (auto& k : (*op_keys)["keys"].as_array()) list.push_back(std::move(k));
  }
  auto res = http::Response::json(200, *keys);
  res.set("Cache-Control", "public, max-age=300");
  return res;
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
         .summary =
             "Readiness: storage reachable (and Redis heard, with several nodes; on PostgreSQL "
             "without Redis, the one node serving one-time values)",
         .tag = "operations",
         .replies = {{200, "Ready", "Health"}, {503, "Not ready", "ErrorDetail"}},
         .handler = ready});
  t.add({.method = "GET",
         .path = "/.well-known/jwks.json",
         .credential = Credential::None,
         .lane = Lane::Inline,
         .summary = "Public keys that verify Gatehouse's tokens: the API's (none for HS*) and the "
                    "OpenID Provider's",
         .tag = "discovery",
         .replies = {{200, "JWK set", "Jwks"}},
         .handler = jwks});
}

}  // namespace gatehouse::api
