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
  // The token's claims, shared with the node's cache of verified tokens (auth::VerifiedTokens), so
  // a request copies none of them; null when authenticated by an API key.
  std::shared_ptr<const jose::Claims> token;
  std::optional<std::int64_t> api_key_id;
  // The OpenID client the access token was issued to (Gatehouse as a provider); empty for the
  // API's own tokens. Such a token, like an API key, never manages the account.
  std::string client_id;

  // The token's claims; empty ones for an API key.
  const jose::Claims& claims() const {
    static const jose::Claims none;
    return token ? *token : none;
  }
};

}  // namespace gatehouse::auth
