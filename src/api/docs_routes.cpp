// The API described to the world: GET /openapi.json (generated from the route table) and the
// Swagger UI at /docs, served from the binary (no CDN). Both 404 with DOCS_ENABLED=false.
#include "api/route.hpp"
#include "api/services.hpp"
#include "docs/swagger_ui.hpp"

namespace gatehouse::api {
namespace {

// Swagger UI needs its own scripts and styles and data: URLs for its icons; nothing inline.
constexpr std::string_view kDocsCsp =
    "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

http::Response openapi(Call& c) {
  Services& s = c.services;
  if (!s.docs_enabled || s.routes == nullptr)
    return errorResponse({auth::Errc::NotFound, {}, {}, 0}, c.request);
  http::Response res;
  res.status = 200;
  res.body = s.routes->openApiJson(s);
  res.set("Content-Type", "application/json");
  return res;
}

http::Response asset(Call& c, std::string_view name) {
  if (!c.services.docs_enabled) return errorResponse({auth::Errc::NotFound, {}, {}, 0}, c.request);
  const auto file = docs::swaggerAsset(name);
  if (!file) return errorResponse({auth::Errc::NotFound, {}, {}, 0}, c.request);
  http::Response res;
  res.status = 200;
  res.body = std::string(file->body);
  res.set("Content-Type", std::string(file->content_type));
  res.set("Content-Security-Policy", std::string(kDocsCsp));
  // The page may change with the build; the assets are pinned by the lockfile.
  res.set("Cache-Control", name == "index.html" ? "no-cache" : "public, max-age=86400");
  return res;
}

http::Response page(Call& c) { return asset(c, "index.html"); }

http::Response file(Call& c) { return asset(c, c.request.path_params.at("name")); }

}  // namespace

void addDocsRoutes(RouteTable& t) {
  t.add({.method = "GET",
         .path = "/openapi.json",
         .credential = Credential::None,
         .lane = http::Lane::Inline,
         .summary = "This document (OpenAPI 3.1); 404 with DOCS_ENABLED=false",
         .tag = "discovery",
         .replies = {{200, "The OpenAPI document", "OpenApiDocument"},
                     {404, "DOCS_ENABLED=false", "ErrorDetail"}},
         .handler = openapi});
  t.add({.method = "GET",
         .path = "/docs",
         .credential = Credential::None,
         .lane = http::Lane::Inline,
         .summary = "Swagger UI for this API",
         .tag = "discovery",
         .replies = {{200, "The page", ""}, {404, "DOCS_ENABLED=false", "ErrorDetail"}},
         .hidden = true,
         .handler = page});
  t.add({.method = "GET",
         .path = "/docs/{name}",
         .credential = Credential::None,
         .lane = http::Lane::Inline,
         .summary = "Swagger UI's files",
         .tag = "discovery",
         .replies = {{200, "The file", ""}, {404, "No such file", "ErrorDetail"}},
         .hidden = true,
         .handler = file});
}

}  // namespace gatehouse::api
