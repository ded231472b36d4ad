#include "auth/auth_service.hpp"

#include <sstream>

#include "auth/validation.hpp"

namespace gatehouse::auth {
namespace {

Error storeFailure(const core::Error& e) {
  return Error{
      e.code == core::Errc::Unavailable ? Errc::Unavailable : Errc::Internal, e.message, {}};
}

std::vector<std::string> splitScopes(const std::string& scope) {
  std::vector<std::string> out;
  std::istringstream in(scope);
  std::string item;
  while (in >> item) out.push_back(item);
  return out;
}

std::vector<FieldError> passwordErrorsFor(const std::vector<std::string>& problems) {
  std::vector<FieldError> out;
  for (const auto& p : problems) out.push_back({{"body", "password"}, p, "value_error.password"});
  return out;
}

}  // namespace

Result<std::vector<FieldError>> AuthService::passwordFieldErrors(
    const std::string& password) const {
  std::vector<std::string> problems = passwordProblems(password, d_.password_rules);
  if (auto ok = d_.hasher.acceptable(password); !ok) problems.push_back(ok.error().message);
  return passwordErrorsFor(problems);
}

Result<std::string> AuthService::hashNewPassword(const std::string& password) {
  auto errors = passwordFieldErrors(password);
  if (!errors->empty())
    return tl::unexpected(Error{Errc::Validation, "password policy", std::move(*errors)});
  const auto& hasher = d_.hasher;
  auto job = d_.hash_pool.submit([&hasher, password] { return hasher.hash(password); });
  if (!job) return fail(Errc::Overloaded, job.error().message);
  auto hash = job->get();
  if (!hash) return fail(Errc::Internal, hash.error().message);
  return std::move(*hash);
}

Result<TokenPair> AuthService::registerUser(const RegisterInput& in, const ClientInfo& client) {
  std::vector<FieldError> errors;
  if (auto p = emailProblem(in.email); !p.empty())
    errors.push_back({{"body", "email"}, p, "value_error.email"});
  if (auto p = usernameProblem(in.username); !p.empty()) {
    errors.push_back({{"body", "username"}, p, "value_error.username"});
  }
  auto pw = passwordFieldErrors(in.password);
  errors.insert(errors.end(), pw->begin(), pw->end());
  if (!errors.empty())
    return tl::unexpected(Error{Errc::Validation, "register input", std::move(errors)});

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
  auto user = d_.store.users().create(
      {in.email, in.username, *hash, std::string(rbac::kDefaultRole), true});
  if (!user) {
    if (user.error().code == core::Errc::AlreadyExists) {
      return fail(user.error().message == "username" ? Errc::UsernameTaken : Errc::EmailTaken);
    }
    return tl::unexpected(storeFailure(user.error()));
  }
  return startSession(*user, d_.policy.permissionsOf(user->role), client);
}

Result<TokenPair> AuthService::login(const std::string& identifier, const std::string& password,
                                     const std::optional<std::string>& scope,
                                     const ClientInfo& client) {
  auto found = identifier.find('@') != std::string::npos
                   ? d_.store.users().findByEmail(identifier)
                   : d_.store.users().findByUsername(identifier);
  if (!found) return tl::unexpected(storeFailure(found.error()));
  std::optional<store::User> user = std::move(*found);

  // One pool job verifies and, when the stored hash is below policy, makes the replacement, so a
  // login costs one queue slot. Unknown users and password-less accounts pay a dummy verify.
  struct Outcome {
    bool ok = false;
    std::optional<std::string> rehash;
  };
  const auto& hasher = d_.hasher;
  const std::string stored = user ? user->password_hash : std::string();
  auto job = d_.hash_pool.submit([&hasher, password, stored]() {
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
  if (!user || !outcome.ok)
    return fail(Errc::InvalidCredentials, user ? "wrong password" : "unknown user");
  if (!user->is_active) return fail(Errc::AccountDisabled);
  if (outcome.rehash) {
    // Best effort: a failed upgrade leaves the old (still valid) hash.
    (void)d_.store.users().setPasswordHash(user->id, *outcome.rehash);
  }
  std::vector<std::string> scopes = d_.policy.permissionsOf(user->role);
  if (scope) scopes = rbac::effectivePermissions(scopes, splitScopes(*scope));
  return startSession(*user, std::move(scopes), client);
}

Result<TokenPair> AuthService::startSession(const store::User& user,
                                            std::vector<std::string> scopes,
                                            const ClientInfo& client) {
  auto session_id = newTokenId();
  auto refresh_jti = newTokenId();
  if (!session_id || !refresh_jti) return fail(Errc::Internal, "random source failed");
  const std::int64_t now = d_.clock.unixSeconds();
  store::Session session{
      *session_id, user.id, *refresh_jti, client.user_agent.substr(0, 512),
      client.ip,   now,     now,          now + d_.tokens.settings().refresh_ttl.count(),
      false};
  if (auto ok = d_.store.sessions().create(session); !ok)
    return tl::unexpected(storeFailure(ok.error()));
  auto pair = d_.tokens.issue(user.id, scopes, *session_id, *refresh_jti);
  if (!pair) return fail(Errc::Internal, pair.error().message);
  return std::move(*pair);
}

Result<TokenPair> AuthService::refresh(const std::string& refresh_token) {
  auto claims = d_.tokens.verifyRefresh(refresh_token);
  if (!claims)
    return fail(Errc::InvalidRefreshToken, std::string(jose::jwtErrorName(claims.error())));
  const auto* sid = claims->raw.if_contains("sid");
  if (sid == nullptr || !sid->is_string() || claims->jti.empty()) {
    return fail(Errc::InvalidRefreshToken, "refresh token without session");
  }
  std::int64_t user_id = 0;
  try {
    user_id = std::stoll(claims->sub);
  } catch (const std::exception&) {
    return fail(Errc::InvalidRefreshToken, "bad sub");
  }
  auto user = d_.store.users().findById(user_id);
  if (!user) return tl::unexpected(storeFailure(user.error()));
  if (!*user || !(*user)->is_active) return fail(Errc::RefreshUserInactive);

  auto next_jti = newTokenId();
  if (!next_jti) return fail(Errc::Internal, "random source failed");
  const std::int64_t now = d_.clock.unixSeconds();
  const std::string session_id(sid->get_string());
  auto outcome = d_.store.sessions().rotate(session_id, claims->jti, *next_jti, now,
                                            now + d_.tokens.settings().refresh_ttl.count());
  if (!outcome) return tl::unexpected(storeFailure(outcome.error()));
  if (*outcome == store::RotateOutcome::Reused) {
    return fail(Errc::InvalidRefreshToken,
                "refresh token reuse: session " + session_id + " revoked");
  }
  if (*outcome == store::RotateOutcome::Inactive)
    return fail(Errc::InvalidRefreshToken, "session inactive");
  auto pair =
      d_.tokens.issue((*user)->id, d_.policy.permissionsOf((*user)->role), session_id, *next_jti);
  if (!pair) return fail(Errc::Internal, pair.error().message);
  return std::move(*pair);
}

Result<void> AuthService::logout(const Principal& who,
                                 const std::optional<std::string>& refresh_token) {
  if (auto ok = d_.revocations.revoke(who.claims.jti, who.claims.exp); !ok) {
    return tl::unexpected(storeFailure(ok.error()));
  }
  if (const auto* sid = who.claims.raw.if_contains("sid"); sid != nullptr && sid->is_string()) {
    if (auto ok = d_.store.sessions().revoke(std::string(sid->get_string())); !ok) {
      return tl::unexpected(storeFailure(ok.error()));
    }
  }
  if (refresh_token) {
    if (auto claims = d_.tokens.verifyRefresh(*refresh_token);
        claims && claims->sub == who.claims.sub) {
      if (const auto* sid = claims->raw.if_contains("sid"); sid != nullptr && sid->is_string()) {
        (void)d_.store.sessions().revoke(std::string(sid->get_string()));
      }
    }
  }
  return {};
}

Result<Principal> AuthService::authenticate(std::string_view bearer) {
  auto claims = d_.tokens.verifyAccess(bearer);
  if (!claims) return fail(Errc::InvalidToken, std::string(jose::jwtErrorName(claims.error())));
  if (claims->jti.empty() || d_.revocations.isRevoked(claims->jti)) {
    return fail(Errc::InvalidToken, "revoked access token");
  }
  std::int64_t user_id = 0;
  try {
    user_id = std::stoll(claims->sub);
  } catch (const std::exception&) {
    return fail(Errc::InvalidToken, "bad sub");
  }
  auto user = d_.store.users().findById(user_id);
  if (!user) return tl::unexpected(storeFailure(user.error()));
  if (!*user) return fail(Errc::InvalidToken, "user no longer exists");
  if (!(*user)->is_active) return fail(Errc::InactiveUser);
  Principal p{std::move(**user), {}, std::move(*claims)};
  p.permissions = rbac::effectivePermissions(d_.policy.permissionsOf(p.user.role), p.claims.scopes);
  return p;
}

}  // namespace gatehouse::auth
