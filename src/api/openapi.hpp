#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "api/route.hpp"

namespace gatehouse::api {

struct OpenApiInfo {
  std::string public_url;                // servers[0].url (GATEHOUSE_PUBLIC_URL)
  std::vector<std::string> permissions;  // the OAuth2 scopes: the policy's permissions
};

// The OpenAPI 3.1 document of every route in `table` not marked hidden: parameters, bodies,
// replies (those the middleware adds from the declaration included), security per route.
boost::json::object openApiDocument(const RouteTable& table, const OpenApiInfo& info);

// A stable operationId from method and path ("GET /api/v1/users/{id}" -> getApiV1UsersId).
std::string operationId(const Route& route);

}  // namespace gatehouse::api
