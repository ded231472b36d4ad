#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jose/jwt.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// Who is calling, once a bearer token or an API key checked out.
struct Principal {
  std::shared_ptr<const store::User> user;  // shared with the user cache; never null
  std::vector<std::string> permissions;     // role's current permissions ∩ token (or key) scopes
  jose::Claims claims;                      // empty when authenticated by an API key
  std::optional<std::int64_t> api_key_id;
  // The OpenID client the access token was issued to (Gatehouse as a provider); empty for the
  // API's own tokens. Such a token, like an API key, never manages the account.
  std::string client_id;
};

}  // namespace gatehouse::auth
