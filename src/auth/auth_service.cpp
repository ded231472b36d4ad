#include "auth/auth_service.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

#include <spdlog/spdlog.h>

#include "auth/validation.hpp"
#include "core/base64url.hpp"
#include "core/blocking.hpp"
#include "crypto/digest.hpp"

namespace gatehouse::auth {
namespace {

std::vector<std::string> splitScopes(const std::string& scope) {
  std::vector<std::string> out;
  std::istringstream in(scope);
  std::string item;
  while (in >> item) out.push_back(item);
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::optional<std::int64_t> parseId(const std::string& sub) {
  std::int64_t id = 0;
  const auto [ptr, ec] = std::from_chars(sub.data(), sub.data() + sub.size(), id);
  if (ec != std::errc{} || ptr != sub.data() + sub.size() || id <= 0) return std::nullopt;
  return id;
}

std::string_view sessionView(const jose::Claims& c) {
  const auto* sid = c.raw.if_contains("sid");
  return sid != nullptr && sid->is_string() ? std::string_view(sid->get_string())
                                            : std::string_view();
}

std::string sessionOf(const jose::Claims& c) { return std::string(sessionView(c)); }

// The scope a session was narrowed to at login (the refresh token's `scope` claim); nullopt for
// a session holding its role's full permissions.
std::optional<std::vector<std::string>> grantedScope(const jose::Claims& c) {
  const auto* scope = c.raw.if_contains("scope");
  if (scope == nullptr || !scope->is_string()) return std::nullopt;
  return splitScopes(std::string(scope->get_string()));
}

// Rate-limiter and lockout keys hold what the client typed: long identifiers are replaced by a
// digest, so a spray of long made-up names costs a bounded number of bytes per key.
std::string compactKey(const std::string& identifier) {
  if (identifier.size() <= 64) return identifier;
  return "#" + core::hexEncode(crypto::sha256(identifier)).substr(0, 32);
}

}  // namespace

void AuthService::record(std::string type, const ClientInfo& client,
                         std::optional<std::int64_t> actor, std::optional<std::int64_t> subject,
                         boost::json::object detail) {
  d_.audit.record({std::move(type), client.request_id, actor, subject, client.ip, client.user_agent,
                   std::move(detail)});
}

std::vector<FieldError> AuthService::passwordFieldErrors(const std::string& password,
                                                         const char* field) const {
  std::vector<std::string> problems = passwordProblems(password, d_.password_rules);
  if (auto ok = d_.hasher.acceptable(password); !ok) problems.push_back(ok.error().message);
  std::vector<FieldError> out;
  for (const auto& p : problems) out.push_back({{"body", field}, p, "value_error.password"});
  return out;
}

Result<std::string> AuthService::hashNewPassword(const std::string& password) {
  auto errors = passwordFieldErrors(password, "password");
  if (!errors.empty())
    return tl::unexpected(Error{Errc::Validation, "password policy", std::move(errors), 0});
  const auto& hasher = d_.hasher;
  auto job = d_.hash_pool.submit([&hasher, password] { return hasher.hash(password); });
  if (!job) return fail(Errc::Overloaded, job.error().message);
  auto hash = job->get();
  if (!hash) return fail(Errc::Internal, hash.error().message);
  return std::move(*hash);
}

Result<void> AuthService::checkRate(const std::vector<std::string>& keys,
                                    const config::RateLimit& limit, const ClientInfo& client,
                                    const char* what) {
  const std::int64_t now = d_.clock.unixSeconds();
  std::int64_t retry_after = 0;
  bool first = false;
  // In order, stopping at the first refusal: a refused request creates no counters for the keys
  // after it (a spray of made-up account names from one address adds nothing once refused).
  for (const auto& key : keys) {
    const auto decision = d_.limiter.hit(key, limit.count, limit.window, now);
    if (!decision) return fail(Errc::Unavailable, "rate limiter: " + decision.error().message);
    if (!decision->allowed) {
      retry_after = decision->retry_after;
      first = decision->first_refusal;
      break;
    }
  }
  if (retry_after == 0) return {};
  d_.metrics.rateLimited();
  // Audited once per key and window, so a flood does not flood the audit log too.
  if (first) record("rate_limited", client, std::nullopt, std::nullopt, {{"endpoint", what}});
  return tl::unexpected(
      Error{Errc::RateLimited, std::string(what) + " rate limit", {}, retry_after});
}

Result<TokenPair> AuthService::registerUser(const RegisterInput& in, const ClientInfo& client) {
  std::vector<FieldError> errors;
  if (auto p = emailProblem(in.email); !p.empty())
    errors.push_back({{"body", "email"}, p, "value_error.email"});
  if (auto p = usernameProblem(in.username); !p.empty()) {
    errors.push_back({{"body", "username"}, p, "value_error.username"});
  }
  auto pw = passwordFieldErrors(in.password, "password");
  errors.insert(errors.end(), pw.begin(), pw.end());
  if (!errors.empty())
    return tl::unexpected(Error{Errc::Validation, "register input", std::move(errors), 0});
  if (auto ok = checkRate({"register:ip:" + client.ip}, d_.abuse.register_, client, "register");
      !ok) {
    return tl::unexpected(ok.error());
  }

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
      return fail(user.error().conflict == core::Conflict::Username ? Errc::UsernameTaken
                                                                    : Errc::EmailTaken);
    }
    return tl::unexpected(storeFailure(user.error()));
  }
  record("user.registered", client, user->id, user->id);
  return startSession(*user, d_.policy.permissionsOf(user->role), client);
}

Result<TokenPair> AuthService::login(const std::string& identifier, const std::string& password,
                                     const std::optional<std::string>& scope,
                                     const ClientInfo& client) {
  const std::string account = compactKey(lower(identifier));
  if (auto ok = checkRate({"login:ip:" + client.ip, "login:acct:" + account,
                           "login:acct-ip:" + account + "|" + client.ip},
                          d_.abuse.login, client, "login");
      !ok) {
    return tl::unexpected(ok.error());
  }
  const auto checked = d_.guard.check(account, d_.clock.unixSeconds());
  if (!checked) return fail(Errc::Unavailable, "login guard: " + checked.error().message);
  const state::Gate gate = *checked;

  std::optional<store::User> user;
  if (gate == state::Gate::Open) {
    auto found = identifier.find('@') != std::string::npos
                     ? d_.store.users().findByEmail(identifier)
                     : d_.store.users().findByUsername(identifier);
    if (!found) return tl::unexpected(storeFailure(found.error()));
    user = std::move(*found);
  }

  // One pool job verifies and, when the stored hash is below policy, makes the replacement, so a
  // login costs one queue slot. Unknown users, password-less accounts and delayed or locked
  // accounts pay a dummy verify: every refusal costs the same.
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

  const std::int64_t now = d_.clock.unixSeconds();
  if (gate != state::Gate::Open || !user || !outcome.ok) {
    const char* reason = gate == state::Gate::Locked    ? "locked"
                         : gate == state::Gate::Delayed ? "delayed"
                         : !user                        ? "unknown_user"
                         : user->password_hash.empty()  ? "no_password"
                                                        : "wrong_password";
    d_.metrics.loginFailed();
    std::optional<std::int64_t> subject = user ? std::optional(user->id) : std::nullopt;
    record("login.failed", client, std::nullopt, subject, {{"reason", reason}});
    if (gate == state::Gate::Open) {
      auto locked = d_.guard.failed(account, now);
      if (!locked) {
        spdlog::warn("login guard: a failure was not counted: {}", locked.error().message);
      } else if (*locked) {
        d_.metrics.lockedOut();
        record("login.locked_out", client, std::nullopt, subject, {});
      }
    }
    return fail(Errc::InvalidCredentials, reason);
  }
  d_.guard.succeeded(account);
  if (!user->is_active) {
    d_.metrics.loginFailed();
    record("login.failed", client, std::nullopt, user->id, {{"reason", "inactive"}});
    return fail(Errc::AccountDisabled);
  }
  if (outcome.rehash && d_.store.users().setPasswordHash(user->id, *outcome.rehash)) {
    // A failed upgrade leaves the old, still valid hash.
    d_.users.invalidate(user->id);
    user->password_hash = *outcome.rehash;  // what the session's post-check expects
  }
  std::vector<std::string> scopes = d_.policy.permissionsOf(user->role);
  std::optional<std::vector<std::string>> granted;
  if (scope) {
    scopes = rbac::effectivePermissions(scopes, splitScopes(*scope));
    granted = scopes;
  }
  d_.metrics.loginSucceeded();
  record("login.succeeded", client, user->id, user->id);
  return startSession(*user, std::move(scopes), client, granted);
}

Result<TokenPair> AuthService::signInExternal(std::int64_t user_id, const std::string& provider,
                                              const ClientInfo& client) {
  // From storage, not the cache: the session's post-check compares against this very row.
  auto user = d_.store.users().findById(user_id);
  if (!user) return tl::unexpected(storeFailure(user.error()));
  if (!*user) return fail(Errc::InvalidCredentials, "external sign-in for a deleted user");
  if (!(*user)->is_active) {
    record("login.failed", client, std::nullopt, user_id,
           {{"reason", "inactive"}, {"method", provider}});
    return fail(Errc::AccountDisabled);
  }
  d_.metrics.loginSucceeded();
  record("login.succeeded", client, user_id, user_id, {{"method", provider}});
  return startSession(**user, d_.policy.permissionsOf((*user)->role), client);
}

Result<TokenPair> AuthService::startSession(
    const store::User& user, std::vector<std::string> scopes, const ClientInfo& client,
    const std::optional<std::vector<std::string>>& granted_scope) {
  auto session_id = newTokenId();
  auto refresh_jti = newTokenId();
  if (!session_id || !refresh_jti) return fail(Errc::Internal, "random source failed");
  const std::int64_t now = d_.clock.unixSeconds();
  store::Session session{*session_id,
                         user.id,
                         *refresh_jti,
                         client.user_agent.substr(0, 512),
                         client.ip,
                         now,
                         now,
                         now + d_.tokens.settings().refresh_ttl.count(),
                         false,
                         "",
                         0};
  if (auto ok = d_.store.sessions().create(session); !ok)
    return tl::unexpected(storeFailure(ok.error()));
  // A password change or deactivation that committed while this sign-in was deciding (the
  // password was checked against the old hash in the hashing queue) must not leave a live
  // session: the change revokes the sessions it finds after its own write, and this reads the
  // user after writing the session, so one of the two always sees the other.
  auto fresh = d_.store.users().findById(user.id);
  if (!fresh) return tl::unexpected(storeFailure(fresh.error()));
  if (!*fresh || !(*fresh)->is_active || (*fresh)->password_hash != user.password_hash ||
      (*fresh)->tokens_valid_after != user.tokens_valid_after) {
    (void)d_.store.sessions().revoke(*session_id);
    (void)endSessionTokens(*session_id);
    return fail(Errc::InvalidCredentials, "account changed while signing in");
  }
  auto pair = d_.tokens.issue(user.id, scopes, *session_id, *refresh_jti, granted_scope);
  if (!pair) return fail(Errc::Internal, pair.error().message);
  d_.metrics.tokensIssued(2);
  return std::move(*pair);
}

Result<void> AuthService::stillValid(const Principal& who) {
  const std::string_view sid = sessionView(who.claims);
  if (d_.revocations.isRevoked(who.claims.jti) ||
      (!sid.empty() && d_.revocations.isSessionRevoked(sid)))
    return fail(Errc::InvalidToken, "token ended meanwhile");
  auto fresh = d_.store.users().findById(who.user->id);
  if (!fresh) return tl::unexpected(storeFailure(fresh.error()));
  if (!*fresh || !(*fresh)->is_active ||
      (*fresh)->tokens_valid_after != who.user->tokens_valid_after)
    return fail(Errc::InvalidToken, "account changed meanwhile");
  if (!sid.empty()) {
    auto session = d_.store.sessions().find(sid);
    if (!session) return tl::unexpected(storeFailure(session.error()));
    if (!*session || (*session)->revoked)
      return fail(Errc::InvalidToken, "session ended meanwhile");
  }
  return {};
}

Result<std::vector<std::string>> AuthService::sessionsToEnd(std::int64_t user_id) {
  // Sessions whose refresh token expired less than an access-token lifetime ago may still have
  // live access tokens: they are ended too.
  const std::int64_t now = d_.clock.unixSeconds();
  auto live =
      d_.store.sessions().listForUser(user_id, now - d_.tokens.settings().access_ttl.count());
  if (!live) return tl::unexpected(storeFailure(live.error()));
  std::vector<std::string> ids;
  ids.reserve(live->size());
  for (auto& session : *live) ids.push_back(std::move(session.id));
  return ids;
}

Result<void> AuthService::endTokensOf(const std::vector<std::string>& session_ids) {
  for (const auto& id : session_ids) {
    if (auto ok = endSessionTokens(id); !ok) return ok;
  }
  return {};
}

Result<void> AuthService::endSessionTokens(const std::string& session_id) {
  // Every access token of the session: they live at most access_ttl from now.
  const std::int64_t until = d_.clock.unixSeconds() + d_.tokens.settings().access_ttl.count();
  if (auto ok = d_.revocations.revokeSession(session_id, until); !ok)
    return tl::unexpected(storeFailure(ok.error()));
  return {};
}

Result<TokenPair> AuthService::refresh(const std::string& refresh_token, const ClientInfo& client) {
  auto claims = d_.tokens.verifyRefresh(refresh_token);
  if (!claims)
    return fail(Errc::InvalidRefreshToken, std::string(jose::jwtErrorName(claims.error())));
  const std::string session_id = sessionOf(*claims);
  const auto user_id = parseId(claims->sub);
  if (session_id.empty() || claims->jti.empty() || !user_id) {
    return fail(Errc::InvalidRefreshToken, "refresh token without session");
  }
  // Each refresh can feed a revocation; a bounded pace per session keeps the revocation list
  // (and its storage) bounded too. Unlike the password limits it guards no secret, so while the
  // shared counters are unreachable refreshes go on (sessions live in the database alone).
  if (auto ok = checkRate({"refresh:sid:" + session_id}, d_.abuse.refresh, client, "refresh");
      !ok && ok.error().code != Errc::Unavailable) {
    return tl::unexpected(ok.error());
  }
  auto user = d_.users.get(*user_id);
  if (!user) return tl::unexpected(storeFailure(user.error()));
  if (!*user || !(*user)->is_active) return fail(Errc::RefreshUserInactive);
  // A password change or deactivation voids refresh tokens issued before it too (their sessions
  // ended; this holds even if a store failed to record that).
  if (claims->iat.value_or(0) < (*user)->tokens_valid_after)
    return fail(Errc::InvalidRefreshToken, "refresh token from before a password change");

  auto next_jti = newTokenId();
  if (!next_jti) return fail(Errc::Internal, "random source failed");
  const std::int64_t now = d_.clock.unixSeconds();
  auto outcome = d_.store.sessions().rotate(session_id, claims->jti, *next_jti, now,
                                            now + d_.tokens.settings().refresh_ttl.count(),
                                            d_.abuse.refresh_grace_seconds);
  if (!outcome) return tl::unexpected(storeFailure(outcome.error()));
  switch (*outcome) {
    case store::RotateOutcome::Rotated:
      break;
    case store::RotateOutcome::Reused:
      // RFC 9700 §4.14.2: a rotated token came back; someone holds a stolen copy. The store
      // revoked the session; its access tokens end with it.
      if (auto ended = endSessionTokens(session_id); !ended)
        spdlog::warn("refresh reuse: session tokens not ended: {}", ended.error().detail);
      d_.metrics.refreshReuse();
      record("refresh.reuse_detected", client, std::nullopt, *user_id,
             {{"session_id", session_id}});
      return fail(Errc::InvalidRefreshToken,
                  "refresh token reuse: session " + session_id + " revoked");
    case store::RotateOutcome::GraceRace:
      return fail(Errc::InvalidRefreshToken, "refresh race within grace window");
    case store::RotateOutcome::Inactive:
      return fail(Errc::InvalidRefreshToken, "session inactive");
  }
  // RFC 6749 §6: the new tokens never exceed the scope granted at login.
  const auto granted = grantedScope(*claims);
  std::vector<std::string> scopes = d_.policy.permissionsOf((*user)->role);
  if (granted) scopes = rbac::effectivePermissions(scopes, *granted);
  auto pair = d_.tokens.issue((*user)->id, scopes, session_id, *next_jti, granted);
  if (!pair) return fail(Errc::Internal, pair.error().message);
  d_.metrics.tokensIssued(2);
  record("token.refreshed", client, *user_id, *user_id, {{"session_id", session_id}});
  return std::move(*pair);
}

Result<void> AuthService::logout(const Principal& who,
                                 const std::optional<std::string>& refresh_token,
                                 const ClientInfo& client) {
  if (auto ok = d_.revocations.revoke(who.claims.jti, who.claims.exp); !ok) {
    return tl::unexpected(storeFailure(ok.error()));
  }
  if (const std::string sid = sessionOf(who.claims); !sid.empty()) {
    if (auto ok = d_.store.sessions().revoke(sid); !ok)
      return tl::unexpected(storeFailure(ok.error()));
    if (auto ok = endSessionTokens(sid); !ok) return ok;
  }
  if (refresh_token) {
    if (auto claims = d_.tokens.verifyRefresh(*refresh_token);
        claims && claims->sub == who.claims.sub) {
      if (const std::string sid = sessionOf(*claims); !sid.empty()) {
        if (auto ok = d_.store.sessions().revoke(sid); !ok)
          return tl::unexpected(storeFailure(ok.error()));
        if (auto ok = endSessionTokens(sid); !ok) return ok;
      }
    }
  }
  record("logout", client, who.user->id, who.user->id, {{"session_id", sessionOf(who.claims)}});
  return {};
}

Result<void> AuthService::revoke(const std::string& token, const std::optional<std::string>& hint,
                                 const ClientInfo& client) {
  // RFC 7009 §2.1: the hint only orders the lookups. Signature checks still apply, so nobody
  // revokes what they could not have been given; expiry does not matter for revocation.
  const bool refresh_first = hint && *hint == "refresh_token";
  const auto asAccess = [&]() -> Result<bool> {
    auto c = d_.tokens.verifyAccess(token);
    if (!c) return false;
    if (auto ok = d_.revocations.revoke(c->jti, c->exp); !ok)
      return tl::unexpected(storeFailure(ok.error()));
    record("token.revoked", client, parseId(c->sub), parseId(c->sub),
           {{"token_type", "access_token"}});
    return true;
  };
  const auto asRefresh = [&]() -> Result<bool> {
    auto c = d_.tokens.verifyRefresh(token);
    if (!c) return false;
    if (const std::string sid = sessionOf(*c); !sid.empty()) {
      if (auto ok = d_.store.sessions().revoke(sid); !ok)
        return tl::unexpected(storeFailure(ok.error()));
      if (auto ok = endSessionTokens(sid); !ok) return tl::unexpected(ok.error());
    }
    record("token.revoked", client, parseId(c->sub), parseId(c->sub),
           {{"token_type", "refresh_token"}});
    return true;
  };
  auto first = refresh_first ? asRefresh() : asAccess();
  if (!first) return tl::unexpected(first.error());
  if (*first) return {};
  auto second = refresh_first ? asAccess() : asRefresh();
  if (!second) return tl::unexpected(second.error());
  return {};
}

Result<Introspection> AuthService::introspect(const std::string& token,
                                              const std::optional<std::string>& hint) {
  Introspection out;
  const auto userFor = [&](const jose::Claims& c) -> Result<std::shared_ptr<const store::User>> {
    const auto id = parseId(c.sub);
    if (!id) return std::shared_ptr<const store::User>{};
    auto u = d_.users.get(*id);
    if (!u) return tl::unexpected(storeFailure(u.error()));
    return std::move(*u);
  };
  const bool refresh_first = hint && *hint == "refresh_token";
  for (int pass = 0; pass < 2; ++pass) {
    const bool as_refresh = (pass == 0) == refresh_first;
    if (!as_refresh) {
      auto principal = authenticate(token);
      if (principal) {
        out.active = true;
        out.token_type = "access_token";
        out.username = principal->user->username;
        out.claims = std::move(principal->claims);
        return out;
      }
      if (principal.error().code == Errc::Unavailable || principal.error().code == Errc::Internal) {
        return tl::unexpected(principal.error());
      }
    } else {
      auto c = d_.tokens.verifyRefresh(token);
      if (!c) continue;
      auto session = d_.store.sessions().find(sessionOf(*c));
      if (!session) return tl::unexpected(storeFailure(session.error()));
      if (!*session || (*session)->revoked || (*session)->refresh_jti != c->jti ||
          (*session)->expires_at <= d_.clock.unixSeconds()) {
        continue;
      }
      auto user = userFor(*c);
      if (!user) return tl::unexpected(user.error());
      if (!*user || !(*user)->is_active) continue;
      out.active = true;
      out.token_type = "refresh_token";
      out.username = (*user)->username;
      out.claims = std::move(*c);
      return out;
    }
  }
  return out;
}

Result<Principal> AuthService::authenticate(std::string_view bearer, core::Wait wait) {
  auto claims = checkAccessToken(bearer);
  if (!claims) return tl::unexpected(claims.error());
  return principalFor(std::move(*claims), wait);
}

Result<jose::Claims> AuthService::checkAccessToken(std::string_view bearer) const {
  auto claims = d_.tokens.verifyAccess(bearer);
  if (!claims) return fail(Errc::InvalidToken, std::string(jose::jwtErrorName(claims.error())));
  // With several nodes, a node that may have missed a revocation answers 503, never "valid".
  if (!d_.revocations.live()) return fail(Errc::Unavailable, "revocation feed down");
  if (claims->jti.empty() || d_.revocations.isRevoked(claims->jti)) {
    return fail(Errc::InvalidToken, "revoked access token");
  }
  return std::move(*claims);
}

Result<Principal> AuthService::principalFor(jose::Claims claims, core::Wait wait) {
  const auto user_id = parseId(claims.sub);
  if (!user_id) return fail(Errc::InvalidToken, "bad sub");
  auto user = d_.users.get(*user_id, wait);
  if (!user) return tl::unexpected(storeFailure(user.error()));
  if (!*user) return fail(Errc::InvalidToken, "user no longer exists");
  // The contract's 403 for inactive users comes first; once reactivated, tokens from before the
  // deactivation (or a password change) stay void: their sessions ended, and the watermark.
  if (!(*user)->is_active) return fail(Errc::InactiveUser);
  if (const std::string_view sid = sessionView(claims);
      !sid.empty() && d_.revocations.isSessionRevoked(sid)) {
    return fail(Errc::InvalidToken, "the token's session has ended");
  }
  const std::int64_t iat = claims.iat.value_or(0);
  if (iat < (*user)->tokens_valid_after) {
    return fail(Errc::InvalidToken,
                "token issued before the user's password change or deactivation");
  }
  if (iat == (*user)->tokens_valid_after) {
    // Issued in the very second of a password change or deactivation: `iat` cannot tell whether
    // before or after. That ended every session then, so the token's session decides (a login
    // right after the change has a new, live one). Rare, so a storage read is fine.
    const std::string_view sid = sessionView(claims);
    if (sid.empty()) return fail(Errc::InvalidToken, "token from the second of a kill, no sid");
    if (wait == core::Wait::No) return fail(Errc::WouldBlock, "same-second token: session to read");
    auto session = d_.store.sessions().find(sid);
    if (!session) return tl::unexpected(storeFailure(session.error()));
    if (!*session || (*session)->revoked)
      return fail(Errc::InvalidToken, "token's session ended by a password change or deactivation");
  }
  Principal p{std::move(*user), {}, std::move(claims)};
  p.permissions =
      rbac::effectivePermissions(d_.policy.permissionsOf(p.user->role), p.claims.scopes);
  return p;
}

Result<std::vector<store::Session>> AuthService::sessions(const Principal& who) {
  auto list = d_.store.sessions().listForUser(who.user->id, d_.clock.unixSeconds());
  if (!list) return tl::unexpected(storeFailure(list.error()));
  return std::move(*list);
}

Result<void> AuthService::endSession(const Principal& who, const std::string& session_id,
                                     const ClientInfo& client) {
  auto session = d_.store.sessions().find(session_id);
  if (!session) return tl::unexpected(storeFailure(session.error()));
  if (!*session || (*session)->user_id != who.user->id || (*session)->revoked ||
      (*session)->expires_at <= d_.clock.unixSeconds()) {
    return fail(Errc::SessionNotFound);
  }
  if (auto ok = d_.store.sessions().revoke(session_id); !ok)
    return tl::unexpected(storeFailure(ok.error()));
  // Every access token of that session ends with it (the presenting one too, if it is its own).
  if (auto ok = endSessionTokens(session_id); !ok) return ok;
  record("session.revoked", client, who.user->id, who.user->id, {{"session_id", session_id}});
  return {};
}

Result<void> AuthService::changePassword(const Principal& who, const std::string& current,
                                         const std::string& next, const ClientInfo& client,
                                         bool keep_api_keys) {
  auto errors = passwordFieldErrors(next, "new_password");
  if (!errors.empty())
    return tl::unexpected(Error{Errc::Validation, "password policy", std::move(errors), 0});
  // The current password is a password check like login's: the same limits and the same growing
  // delays and lock on consecutive failures. They count per session (and per address), not per
  // account: a thief holding one stolen token can neither guess without limit nor lock the owner
  // out of changing their own password from another session.
  const std::string sid = sessionOf(who.claims);
  const std::string counter = "pw:" + (sid.empty() ? "user:" + std::to_string(who.user->id) : sid);
  if (auto ok = checkRate({"pwchange:ip:" + client.ip, "pwchange:" + counter}, d_.abuse.login,
                          client, "password change");
      !ok) {
    return tl::unexpected(ok.error());
  }
  const auto gate = d_.guard.check(counter, d_.clock.unixSeconds());
  if (!gate) return fail(Errc::Unavailable, "login guard: " + gate.error().message);
  if (*gate != state::Gate::Open) {
    // The caller is signed in: telling them to wait reveals nothing a guess could use.
    record("password.change_failed", client, who.user->id, who.user->id,
           {{"reason", *gate == state::Gate::Locked ? "locked" : "delayed"}});
    return tl::unexpected(Error{Errc::RateLimited,
                                "password change delayed",
                                {},
                                *gate == state::Gate::Locked ? 3600 : 60});
  }
  const auto& hasher = d_.hasher;
  const std::string stored = who.user->password_hash;
  auto job = d_.hash_pool.submit([&hasher, current, next, stored]() -> std::optional<std::string> {
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
    if (auto locked = d_.guard.failed(counter, d_.clock.unixSeconds()); locked && *locked)
      record("password.change_locked", client, who.user->id, who.user->id);
    return fail(Errc::WrongPassword);
  }
  d_.guard.succeeded(counter);
  const std::int64_t now = d_.clock.unixSeconds();
  auto ending = sessionsToEnd(who.user->id);
  if (!ending) return tl::unexpected(ending.error());
  // One transaction: the hash, the watermark, every session (API.md: a session ends as a whole)
  // and the API keys unless kept; then the sessions' access tokens on every node.
  if (auto ok = d_.store.users().changePassword(who.user->id, *hash, now, !keep_api_keys); !ok) {
    return tl::unexpected(storeFailure(ok.error()));
  }
  d_.users.invalidate(who.user->id);
  if (auto ok = endTokensOf(*ending); !ok) return ok;
  (void)d_.revocations.revoke(who.claims.jti, who.claims.exp);
  record("password.changed", client, who.user->id, who.user->id,
         {{"api_keys", keep_api_keys ? "kept" : "revoked"}});
  return {};
}

}  // namespace gatehouse::auth
