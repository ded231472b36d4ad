#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/errors.hpp"
#include "auth/revocations.hpp"
#include "auth/tokens.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "password/hash_pool.hpp"
#include "password/password_hasher.hpp"
#include "rbac/policy.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// Who is calling, once a bearer token checked out.
struct Principal {
  store::User user;
  std::vector<std::string> permissions;  // role's current permissions ∩ token scopes
  jose::Claims claims;
};

// Where a request came from, recorded on the session.
struct ClientInfo {
  std::string ip;
  std::string user_agent;
};

struct RegisterInput {
  std::string email;
  std::string username;
  std::string password;
};

// Registration, login, refresh rotation, logout and bearer authentication (API.md, Auth). Runs on
// worker threads: it blocks on storage and waits for the hashing pool, never on an I/O thread.
// Thread-safe.
class AuthService {
 public:
  struct Deps {
    store::Store& store;
    const password::PasswordHasher& hasher;
    password::HashPool& hash_pool;
    const TokenService& tokens;
    const rbac::Policy& policy;
    RevocationList& revocations;
    const core::Clock& clock;
    config::PasswordRules password_rules;
  };
  explicit AuthService(Deps deps) : d_(std::move(deps)) {}

  // Validation (each failed rule named), EmailTaken, UsernameTaken, Overloaded.
  Result<TokenPair> registerUser(const RegisterInput& in, const ClientInfo& client);
  // `identifier` is an email or a username. `scope`, when given, narrows the token's scopes.
  // InvalidCredentials (same for unknown users, at the same cost), AccountDisabled, Overloaded.
  Result<TokenPair> login(const std::string& identifier, const std::string& password,
                          const std::optional<std::string>& scope, const ClientInfo& client);
  // Rotates: InvalidRefreshToken (bad, rotated or revoked; a replay revokes the session),
  // RefreshUserInactive.
  Result<TokenPair> refresh(const std::string& refresh_token);
  // Revokes the access token and its session (and the session of `refresh_token` if given).
  Result<void> logout(const Principal& who, const std::optional<std::string>& refresh_token);
  // Checks a bearer token: InvalidToken (bad, expired, revoked, unknown user), InactiveUser.
  Result<Principal> authenticate(std::string_view bearer);

  // A password that passes the policy, for the CLI and password changes: Validation or Overloaded.
  Result<std::string> hashNewPassword(const std::string& password);

  const rbac::Policy& policy() const { return d_.policy; }

 private:
  Result<TokenPair> startSession(const store::User& user, std::vector<std::string> scopes,
                                 const ClientInfo& client);
  Result<std::vector<FieldError>> passwordFieldErrors(const std::string& password) const;

  Deps d_;
};

}  // namespace gatehouse::auth
