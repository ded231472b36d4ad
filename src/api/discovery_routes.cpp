// Operations and discovery, no prefix (API.md, Discovery and operations).
#include <boost/json/value_from.hpp>

#include "api/services.hpp"

namespace gatehouse::api {

void addDiscoveryRoutes(http::Router& router, Services& s) {
  router.add("GET", "/healthz", [](http::Request&) {
    return http::Response::json(200, boost::json::object{{"status", "ok"}});
  });
  router.add("GET", "/readyz", [&s](http::Request& r) {
    if (auto ok = s.store.ping(); !ok) {
      return errorResponse({auth::Errc::Unavailable, ok.error().message, {}}, r);
    }
    if (s.bus != nullptr && !s.bus->live()) {
      return errorResponse({auth::Errc::Unavailable, "Redis notifications down", {}}, r);
    }
    return http::Response::json(200, boost::json::object{{"status", "ready"}});
  });
  router.add("GET", "/.well-known/jwks.json", [&s](http::Request& r) {
    auto jwks = s.tokens.keys().toPublicJwks();
    if (!jwks) return errorResponse({auth::Errc::Internal, jwks.error().message, {}}, r);
    auto res = http::Response::json(200, *jwks);
    res.set("Cache-Control", "public, max-age=300");
    return res;
  });
  router.add("GET", "/.well-known/openid-configuration", [&s](http::Request&) {
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
                 {"grant_types_supported", boost::json::array{"password", "refresh_token"}},
                 {"token_endpoint_auth_methods_supported", boost::json::array{"none"}},
                 {"response_types_supported", boost::json::array{"token"}},
                 {"scopes_supported", boost::json::value_from(s.policy.allPermissions())},
                 {"token_signing_alg_values_supported", std::move(algs)},
             });
  });
}

}  // namespace gatehouse::api
