#include "auth/passwords.hpp"

#include "auth/claims.hpp"
#include "auth/rate_check.hpp"
#include "auth/validation.hpp"
#include "core/log.hpp"

namespace gatehouse::auth {

void PasswordService::record(std::string type, const ClientInfo& client,
                             std::optional<std::int64_t> actor, std::optional<std::int64_t> subject,
                             boost::json::object detail) {
  d_.audit.record(auditEvent(std::move(type), client, actor, subject, std::move(detail)));
}

std::vector<FieldError> PasswordService::passwordFieldErrors(const std::string& password,
                                                             const char* field) const {
  std::vector<std::string> problems = passwordProblems(password, d_.password_rules);
  if (auto ok = d_.hasher.acceptable(password); !ok) problems.push_back(ok.error().message);
  std::vector<FieldError> out;
  for (const auto& p : problems) out.push_back({{"body", field}, p, "value_error.password"});
  return out;
}

Result<std::string> PasswordService::hashNewPassword(const std::string& password,
                                                     const char* field) {
  auto errors = passwordFieldErrors(password, field);
  if (!errors.empty())
    return tl::unexpected(Error{Errc::Validation, "password policy", std::move(errors), 0});
  const auto& hasher = d_.hasher;
  auto job = d_.hash_pool.submit([&hasher, password] { return hasher.hash(password); });
  if (!job) return fail(Errc::Overloaded, job.error().message);
  auto hash = job->get();
  if (!hash) return fail(Errc::Internal, hash.error().message);
  return std::move(*hash);
}

std::vector<FieldError> PasswordService::registrationProblems(const RegisterInput& in) const {
  return accountProblems(
      {in.email, in.username, in.password, std::string(rbac::kDefaultRole), false});
}

std::vector<FieldError> PasswordService::accountProblems(const NewAccount& in) const {
  std::vector<FieldError> errors;
  if (auto p = emailProblem(in.email); !p.empty())
    errors.push_back({{"body", "email"}, p, "value_error.email"});
  if (auto p = usernameProblem(in.username); !p.empty()) {
    errors.push_back({{"body", "username"}, p, "value_error.username"});
  }
  if (!d_.policy.hasRole(in.role))
    errors.push_back({{"body", "role"}, "Unknown role: " + in.role, "value_error.role"});
  auto pw = passwordFieldErrors(in.password, "password");
  errors.insert(errors.end(), pw.begin(), pw.end());
  return errors;
}

Result<store::User> PasswordService::create(const NewAccount& in, const char* event,
                                            const ClientInfo& client, const UserCreator& creator) {
  if (auto errors = accountProblems(in); !errors.empty())
    return tl::unexpected(Error{Errc::Validation, "account input", std::move(errors), 0});

  // Cheap checks first, so a taken email does not cost a hash; the database's unique
  // constraints still decide races.
  auto by_email = d_.store.users().findByEmail(in.email);
  if (!by_email) return tl::unexpected(storeFailure(by_email.error()));
  if (*by_email) return fail(Errc::EmailTaken);
  auto by_name = d_.store.users().findByUsername(in.username);
  if (!by_name) return tl::unexpected(storeFailure(by_name.error()));
  if (*by_name) return fail(Errc::UsernameTaken);

  auto hash = hashNewPassword(in.password);
  if (!hash) return tl::unexpected(hash.error());
  const store::NewUser fresh{in.email, in.username, *hash, in.role, true, in.email_verified};
  auto user = creator ? creator(fresh) : d_.store.users().create(fresh);
  if (!user) {
    if (user.error().code == core::Errc::AlreadyExists) {
      return fail(user.error().conflict == core::Conflict::Username ? Errc::UsernameTaken
                                                                    : Errc::EmailTaken);
    }
    return tl::unexpected(storeFailure(user.error()));
  }
  const bool self = client.actor_name.empty();
  record(event, client, self ? std::optional(user->id) : std::nullopt, user->id,
         {{"role", user->role}});
  return std::move(*user);
}

Result<SignedIn> PasswordService::registerUser(const RegisterInput& in, const ClientInfo& client,
                                               const UserCreator& creator) {
  auto user = create({in.email, in.username, in.password, std::string(rbac::kDefaultRole), false},
                     "user.registered", client, creator);
  if (!user) return tl::unexpected(user.error());
  std::vector<std::string> scopes = d_.policy.permissionsOf(user->role);
  return SignedIn{
      std::move(*user), std::move(scopes), {std::nullopt, {"pwd"}, d_.clock.unixSeconds()}};
}

Result<store::User> PasswordService::createAccount(const NewAccount& in, const ClientInfo& client) {
  return create(in, "user.created", client);
}

Result<SignedIn> PasswordService::login(const std::string& identifier, const std::string& password,
                                        const std::optional<std::string>& scope,
                                        const ClientInfo& client) {
  // The account first, whatever the gate says: one lockout for it under either of its names.
  auto found = identifier.find('@') != std::string::npos
                   ? d_.store.users().findByEmail(identifier)
                   : d_.store.users().findByUsername(identifier);
  if (!found) return tl::unexpected(storeFailure(found.error()));
  std::optional<store::User> user = std::move(*found);
  const std::string account = user ? lockoutKey(user->id) : lockoutKeyOfName(identifier);
  // Counted as a failure before the hash is paid for (state::LoginGuard::attempt).
  const auto attempted = d_.guard.attempt(account, d_.clock.unixSeconds());
  if (!attempted) return fail(Errc::Unavailable, "login guard: " + attempted.error().message);
  const state::Gate gate = attempted->gate;

  // One pool job verifies and, when the stored hash is below policy, makes the replacement, so a
  // login costs one queue slot. Unknown users, password-less accounts and delayed or locked
  // accounts pay a dummy verify: every refusal costs the same.
  struct Outcome {
    bool ok = false;
    std::optional<std::string> rehash;
  };
  const auto& hasher = d_.hasher;
  // A delayed or locked account is not checked: the dummy hash, as for an unknown one.
  const std::string stored =
      user && gate == state::Gate::Open ? user->password_hash : std::string();
  auto job = poolFor(stored).submit([&hasher, password, stored]() {
    Outcome out;
    if (stored.empty()) {
      hasher.verifyDummy(password);
      return out;
    }
    out.ok = hasher.verify(password, stored);
    if (out.ok && hasher.needsRehash(stored) && hasher.acceptable(password)) {
      if (auto fresh = hasher.hash(password)) out.rehash = std::move(*fresh);
    }
    return out;
  });
  if (!job) return fail(Errc::Overloaded, job.error().message);
  Outcome outcome = job->get();

  if (gate != state::Gate::Open || !user || !outcome.ok) {
    const char* reason = gate == state::Gate::Locked    ? "locked"
                         : gate == state::Gate::Delayed ? "delayed"
                         : !user                        ? "unknown_user"
                         : user->password_hash.empty()  ? "no_password"
                                                        : "wrong_password";
    d_.metrics.loginFailed();
    std::optional<std::int64_t> subject = user ? std::optional(user->id) : std::nullopt;
    record("login.failed", client, std::nullopt, subject, {{"reason", reason}});
    if (gate == state::Gate::Open && attempted->locked) {
      d_.metrics.lockedOut();
      record("login.locked_out", client, std::nullopt, subject, {});
    }
    return fail(Errc::InvalidCredentials, reason);
  }
  d_.guard.succeeded(account);
  if (!user->is_active) {
    d_.metrics.loginFailed();
    record("login.failed", client, std::nullopt, user->id, {{"reason", "inactive"}});
    return fail(Errc::AccountDisabled);
  }
  if (d_.email_verification_required && !user->email_verified) {
    d_.metrics.loginFailed();
    record("login.failed", client, std::nullopt, user->id, {{"reason", "email_not_verified"}});
    return fail(Errc::EmailNotVerified);
  }
  if (outcome.rehash &&
      d_.store.users().replacePasswordHash(user->id, user->password_hash, *outcome.rehash)) {
    // Only over the hash just verified: a password change that committed meanwhile stays. A
    // failed upgrade leaves the old, still valid hash.
    d_.users.invalidate(user->id);
    user->password_hash = *outcome.rehash;  // what the session's post-check expects
  }
  std::vector<std::string> scopes = d_.policy.permissionsOf(user->role);
  std::optional<std::vector<std::string>> granted;
  if (scope) {
    scopes = rbac::effectivePermissions(scopes, splitScopes(*scope));
    granted = scopes;
  }
  if (user->mfa_enabled) {
    // Half a sign-in: the second factor decides (mfa.verified, or mfa.failed).
    record("login.password_verified", client, user->id, user->id);
  } else {
    d_.metrics.loginSucceeded();
    record("login.succeeded", client, user->id, user->id);
  }
  return SignedIn{
      std::move(*user), std::move(scopes), {std::move(granted), {"pwd"}, d_.clock.unixSeconds()}};
}

Result<std::vector<std::string>> PasswordService::replaceHash(std::int64_t user_id,
                                                              const std::string& hash,
                                                              store::PasswordEnds ends) {
  auto ending = d_.end.liveSessionsOf(user_id);
  if (!ending) return tl::unexpected(ending.error());
  // One transaction: the hash, the watermark, every session (API.md: a session ends as a whole)
  // and the API keys when asked.
  if (auto ok = d_.store.users().changePassword(user_id, hash, d_.clock.unixSeconds(), ends); !ok) {
    if (ok.error().code == core::Errc::NotFound) return fail(Errc::UserNotFound);
    // The role the rights were judged against moved (a rare race: the caller asks again).
    if (ok.error().code == core::Errc::Aborted) return fail(Errc::Unavailable, ok.error().message);
    return tl::unexpected(storeFailure(ok.error()));
  }
  d_.users.invalidate(user_id);
  return std::move(*ending);
}

Result<void> PasswordService::changePassword(const Principal& who, const std::string& current,
                                             const std::string& next, const ClientInfo& client,
                                             bool keep_api_keys,
                                             const std::function<Result<void>()>& second_factor) {
  auto errors = passwordFieldErrors(next, "new_password");
  if (!errors.empty())
    return tl::unexpected(Error{Errc::Validation, "password policy", std::move(errors), 0});
  // The current password is a password check like login's: the same growing delays and lock on
  // consecutive failures. They count per session, not per account: a thief holding one stolen
  // token can neither guess without limit nor lock the owner out of changing their own password
  // from another session.
  const std::string counter = "pw:" + sessionCounterKey(who.claims());
  const std::int64_t now = d_.clock.unixSeconds();
  const auto attempted = d_.guard.attempt(counter, now);
  if (!attempted) return fail(Errc::Unavailable, "login guard: " + attempted.error().message);
  if (attempted->gate != state::Gate::Open) {
    // The caller is signed in: telling them to wait reveals nothing a guess could use.
    const bool locked = attempted->gate == state::Gate::Locked;
    record("password.change_failed", client, who.user->id, who.user->id,
           {{"reason", locked ? "locked" : "delayed"}});
    // Retry-After says when the gate opens (a limits attack: a 3 s delay answered 60, and a
    // lock 3600 whatever LOGIN_LOCKOUT_MINUTES said).
    const std::int64_t wait = std::max<std::int64_t>(1, attempted->until - now);
    return tl::unexpected(Error{Errc::RateLimited, "password change delayed", {}, wait});
  }
  const auto& hasher = d_.hasher;
  const std::string stored = who.user->password_hash;
  auto job =
      poolFor(stored).submit([&hasher, current, next, stored]() -> std::optional<std::string> {
        // No password yet (external sign-in): a dummy verify, so every refusal costs the same.
        if (stored.empty()) {
          hasher.verifyDummy(current);
          return std::nullopt;
        }
        if (!hasher.verify(current, stored)) return std::nullopt;
        auto h = hasher.hash(next);
        return h ? std::optional<std::string>(std::move(*h)) : std::nullopt;
      });
  if (!job) return fail(Errc::Overloaded, job.error().message);
  auto hash = job->get();
  if (!hash) {
    record("password.change_failed", client, who.user->id, who.user->id,
           {{"reason", "wrong_password"}});
    if (attempted->locked) record("password.change_locked", client, who.user->id, who.user->id);
    return fail(Errc::WrongPassword);
  }
  d_.guard.succeeded(counter);
  if (second_factor) {
    if (auto ok = second_factor(); !ok) return ok;
  }
  auto ending = replaceHash(who.user->id, *hash, {.api_keys = !keep_api_keys});
  if (!ending) return tl::unexpected(ending.error());
  // Committed: audited before the access tokens end on every node, which may fail on its own.
  record("password.changed", client, who.user->id, who.user->id,
         {{"api_keys", keep_api_keys ? "kept" : "revoked"}});
  if (auto ok = d_.revocations.revoke(who.claims().jti, who.claims().exp); !ok)
    spdlog::warn("password change: the presenting token was not revoked: {}", ok.error().message);
  return d_.end.endTokens(*ending);
}

Result<SignedIn> PasswordService::reauthenticate(const Principal& who, const std::string& password,
                                                 const ClientInfo& client) {
  // The same per-session delays and lock as a password change: a stolen token cannot guess.
  const std::string counter = "pw:" + sessionCounterKey(who.claims());
  const auto attempted = d_.guard.attempt(counter, d_.clock.unixSeconds());
  if (!attempted) return fail(Errc::Unavailable, "login guard: " + attempted.error().message);
  const state::Gate gate = attempted->gate;
  // The account and the session from storage, before the proof: the proof is checked against
  // this row's hash and the new session's own check compares against this row, so a reset that
  // committed before this read ended the session (refused here) and one after it is seen by that
  // check. Compared with the token check's row, read afterwards, a reset in between let a thief
  // looping this with the old password keep a session (a review); the cached row may lag a
  // change the user made themselves (a second review).
  auto current = currentAccount(d_.store, who);
  if (!current) {
    if (current.error().code == Errc::InvalidCredentials)
      record("reauthentication.failed", client, who.user->id, who.user->id,
             {{"reason", "account_changed"}});
    return tl::unexpected(current.error());
  }
  const auto& hasher = d_.hasher;
  const std::string stored = current->password_hash;
  auto job = poolFor(stored).submit([&hasher, password, stored] {
    if (stored.empty()) {
      hasher.verifyDummy(password);
      return false;
    }
    return hasher.verify(password, stored);
  });
  if (!job) return fail(Errc::Overloaded, job.error().message);
  const bool ok = job->get();
  if (gate != state::Gate::Open || !ok) {
    record("reauthentication.failed", client, who.user->id, who.user->id,
           {{"reason", gate != state::Gate::Open ? "delayed" : "wrong_password"}});
    if (gate == state::Gate::Open && attempted->locked)
      record("password.change_locked", client, who.user->id, who.user->id);
    return fail(Errc::InvalidCredentials, "reauthentication refused");
  }
  d_.guard.succeeded(counter);
  record("reauthenticated", client, who.user->id, who.user->id);
  std::vector<std::string> scopes = who.claims().scopes;
  return SignedIn{std::move(*current), scopes, {scopes, {"pwd"}, d_.clock.unixSeconds()}};
}

Result<void> PasswordService::setPassword(std::int64_t user_id, const std::string& next,
                                          const ClientInfo& client, bool keep_api_keys,
                                          std::optional<std::int64_t> actor,
                                          std::optional<std::string> role_is,
                                          const std::function<Result<void>()>& still_allowed) {
  auto hash = hashNewPassword(next);
  if (!hash) return tl::unexpected(hash.error());
  // The hashing (and its queue) may take seconds: the actor's rights are asked again after it
  // (an outside attack: resets queued by a moderator landed after the moderator's demotion).
  if (still_allowed) {
    if (auto ok = still_allowed(); !ok) return ok;
  }
  // Set by someone else, as a reset by mail: whoever took the account may have added a way in
  // (an outside attack: a thief's linked identity signed in after the administrator's reset).
  auto ending = replaceHash(
      user_id, *hash,
      {.api_keys = !keep_api_keys, .other_ways_in = true, .role_is = std::move(role_is)});
  if (!ending) return tl::unexpected(ending.error());
  record("password.reset", client, actor, user_id,
         {{"api_keys", keep_api_keys ? "kept" : "revoked"}});
  return d_.end.endTokens(*ending);
}

}  // namespace gatehouse::auth
