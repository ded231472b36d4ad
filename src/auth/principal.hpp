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
};

}  // namespace gatehouse::auth
