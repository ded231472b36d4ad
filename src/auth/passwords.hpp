#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/client_info.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"
#include "auth/session_end.hpp"
#include "auth/sessions.hpp"
#include "auth/user_cache.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "password/hash_pool.hpp"
#include "password/password_hasher.hpp"
#include "rbac/policy.hpp"
#include "state/limits.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

struct RegisterInput {
  std::string email;
  std::string username;
  std::string password;
};

// Writes a new user to storage: by default UserStore::create; the email flows pass one that
// writes the verification mail in the same transaction.
using UserCreator = std::function<core::Result<store::User>(const store::NewUser&)>;

// An account made by an operator (the CLI): any known role, and whether the email is vouched for.
struct NewAccount {
  std::string email;
  std::string username;
  std::string password;
  std::string role;
  bool email_verified = false;
};

// Everything that checks or sets a password (API.md, Auth): registration, login (the proof a
// session starts from), password change, an operator's reset; with the policy, the hashing pool
// (bounded: Overloaded when full), the NIST lockout, equal cost for unknown users. Rate limits by
// address and account are the route's (api/ middleware). Runs on workers. Thread-safe.
class PasswordService {
 public:
  struct Deps {
    store::Store& store;
    const password::PasswordHasher& hasher;
    password::HashPool& hash_pool;
    const rbac::Policy& policy;
    UserCache& users;
    SessionEnd& end;
    RevocationList& revocations;
    state::LoginGuard& guard;
    audit::AuditLog& audit;
    metrics::Registry& metrics;
    const core::Clock& clock;
    config::PasswordRules password_rules;
    bool email_verification_required = false;  // EMAIL_VERIFICATION=required
    // Where a stored hash far dearer than the policy's is checked (PasswordHasher::dear): a pool
    // of its own, so such hashes never hold the threads everyone else's logins need. Null: the
    // hashing pool.
    password::HashPool* dear_pool = nullptr;
  };
  explicit PasswordService(Deps deps) : d_(std::move(deps)) {}

  // What is wrong with a registration's input (each failed rule named, as 422 items): checked
  // before the rate limit counts the request, and again by registerUser().
  std::vector<FieldError> registrationProblems(const RegisterInput& in) const;
  // A self-registered user with the default role: Validation (each failed rule named),
  // EmailTaken, UsernameTaken, Overloaded.
  // `creator` writes the user (see UserCreator).
  [[nodiscard]] Result<SignedIn> registerUser(const RegisterInput& in, const ClientInfo& client,
                                              const UserCreator& creator = {});
  // An operator's account (`gatehouse user create`): the same rules, any known role.
  [[nodiscard]] Result<store::User> createAccount(const NewAccount& in, const ClientInfo& client);
  // `identifier` is an email or a username; `scope` narrows the session's permissions.
  // InvalidCredentials (same answer and cost for unknown users, wrong passwords and locked
  // accounts), AccountDisabled, EmailNotVerified (when required; both only after a right
  // password), Overloaded, Unavailable (the lockout's shared state).
  [[nodiscard]] Result<SignedIn> login(const std::string& identifier, const std::string& password,
                                       const std::optional<std::string>& scope,
                                       const ClientInfo& client);
  // WrongPassword (also while delayed or locked after failures), Validation, Overloaded; revokes
  // every session and voids earlier tokens. With `keep_api_keys` false the user's API keys end
  // in the same transaction (the caller then drops them from the key cache). `second_factor`,
  // when given, runs only after the current password verified and before anything changes (a
  // code is never judged, nor a time step spent, for someone who does not know the password);
  // its error is returned as is.
  [[nodiscard]] Result<void> changePassword(
      const Principal& who, const std::string& current, const std::string& next,
      const ClientInfo& client, bool keep_api_keys = false,
      const std::function<Result<void>()>& second_factor = {});
  // A signed-in user proves the password again (step-up): a new sign-in with a fresh auth_time
  // and amr ["pwd"], never wider than the presenting token. InvalidCredentials (also while the
  // session's failures delay or lock it), Overloaded.
  [[nodiscard]] Result<SignedIn> reauthenticate(const Principal& who, const std::string& password,
                                                const ClientInfo& client);
  // What is wrong with a new password (422 items): checked before the route's rate limit counts.
  std::vector<FieldError> newPasswordProblems(const std::string& password,
                                              const char* field) const {
    return passwordFieldErrors(password, field);
  }
  // An operator sets a password (`gatehouse user set-password`): Validation, UserNotFound,
  // Overloaded; the same single transaction as a change: sessions end, and API keys too unless
  // kept (one may have been minted by whoever the reset evicts), and, as a reset by mail, the
  // linked identities, the passkeys staying second factors only (store::PasswordEnds).
  // `actor`: the administrator who did it (none: the command line); `role_is`: the role their
  // rights were judged against, which the user must still have (Unavailable otherwise, nothing
  // changed: a promotion committed in between); `still_allowed`, when set, runs after the
  // hashing and before the write, and its refusal is the answer (the actor demoted meanwhile).
  [[nodiscard]] Result<void> setPassword(std::int64_t user_id, const std::string& next,
                                         const ClientInfo& client, bool keep_api_keys = false,
                                         std::optional<std::int64_t> actor = std::nullopt,
                                         std::optional<std::string> role_is = std::nullopt,
                                         const std::function<Result<void>()>& still_allowed = {});
  // A password that passes the policy, hashed on the pool: Validation or Overloaded.
  [[nodiscard]] Result<std::string> hashNewPassword(const std::string& password,
                                                    const char* field = "password");

 private:
  // The pool that checks `stored`: the dear pool for a hash far dearer than the policy's.
  password::HashPool& poolFor(const std::string& stored) const {
    return d_.dear_pool != nullptr && d_.hasher.dear(stored) ? *d_.dear_pool : d_.hash_pool;
  }
  [[nodiscard]] Result<store::User> create(const NewAccount& in, const char* event,
                                           const ClientInfo& client,
                                           const UserCreator& creator = {});
  std::vector<FieldError> accountProblems(const NewAccount& in) const;
  std::vector<FieldError> passwordFieldErrors(const std::string& password, const char* field) const;
  // The new hash, the watermark, every session and what `ends` names in one transaction: the
  // sessions whose access tokens the caller ends next (after auditing what committed).
  [[nodiscard]] Result<std::vector<std::string>> replaceHash(std::int64_t user_id,
                                                             const std::string& hash,
                                                             store::PasswordEnds ends);
  void record(std::string type, const ClientInfo& client, std::optional<std::int64_t> actor,
              std::optional<std::int64_t> subject, boost::json::object detail = {});

  Deps d_;
};

}  // namespace gatehouse::auth
