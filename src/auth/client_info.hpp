#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "audit/audit_log.hpp"

namespace gatehouse::auth {

// Where a request came from: recorded on sessions and audit events, which make what the client
// sent storable (core::storableText) where they store it: the User-Agent here is as it came.
struct ClientInfo {
  std::string ip;
  std::string user_agent;
  std::string request_id;
  // Who acts when it is not a signed-in user: "cli" for the command line (audited as the
  // event's "actor"); empty for requests.
  std::string actor_name;
  // The API key the request's caller used (audited as "api_key_id": what a key did apart from
  // what its owner did, an outside attack's find); none for a token.
  std::optional<std::int64_t> api_key_id;
  // The OpenID client whose token (a user's, through it) the caller used: audited as
  // "via_client_id", what a client did apart from what its user did (an outside attack's find);
  // empty for the user's own token.
  std::string op_client_id;
};

// The command line as a client: no address, its own user agent, audited as actor "cli".
inline ClientInfo commandLineClient() { return {"", "gatehouse-cli", "cli", "cli"}; }

// An audit event about `subject` done by `actor` (a user id) for `client`.
inline audit::Event auditEvent(std::string type, const ClientInfo& client,
                               std::optional<std::int64_t> actor,
                               std::optional<std::int64_t> subject,
                               boost::json::object detail = {}) {
  if (!client.actor_name.empty()) detail["actor"] = client.actor_name;
  if (client.api_key_id) detail["api_key_id"] = *client.api_key_id;
  if (!client.op_client_id.empty()) detail["via_client_id"] = client.op_client_id;
  return {std::move(type),   client.request_id, actor, subject, client.ip,
          client.user_agent, std::move(detail)};
}

}  // namespace gatehouse::auth
