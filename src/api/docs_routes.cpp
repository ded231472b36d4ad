// The API described to the world: GET /openapi.json (generated from the route table).
#include "api/route.hpp"
#include "api/services.hpp"

namespace gatehouse::api {
namespace {

http::Response openapi(Call& c) {
  Services& s = c.services;
  if (!s.docs_enabled || s.routes == nullptr) return http::Response::detail(404, "Not Found");
  http::Response res;
  res.status = 200;
  res.body = s.routes->openApiJson(s);
  res.set("Content-Type", "application/json");
  return res;
}

}  // namespace

void addDocsRoutes(RouteTable& t) {
  t.add({.method = "GET",
         .path = "/openapi.json",
         .credential = Credential::None,
         .lane = http::Lane::Inline,
         .summary = "This document (OpenAPI 3.1); 404 with DOCS_ENABLED=false",
         .tag = "discovery",
         .replies = {{200, "The OpenAPI document", ""}},
         .handler = openapi});
}

}  // namespace gatehouse::api
