#include "auth/user_service.hpp"

#include "auth/validation.hpp"

namespace gatehouse::auth {
namespace {

Error fromStore(const core::Error& e) {
  switch (e.code) {
    case core::Errc::NotFound:
      return Error{Errc::UserNotFound, e.message, {}, 0};
    case core::Errc::AlreadyExists:
      return Error{e.conflict == core::Conflict::Username ? Errc::UsernameTaken : Errc::EmailTaken,
                   e.message,
                   {},
                   0};
    case core::Errc::FailedPrecondition:
      return Error{Errc::LastAdmin, e.message, {}, 0};
    default:
      return storeFailure(e);
  }
}

}  // namespace

Result<UserPage> UserService::list(std::int64_t limit, std::int64_t offset) {
  auto items = store_.users().list(limit, offset);
  if (!items) return tl::unexpected(fromStore(items.error()));
  auto total = store_.users().count();
  if (!total) return tl::unexpected(fromStore(total.error()));
  return UserPage{std::move(*items), *total};
}

Result<store::User> UserService::get(std::int64_t id) {
  auto user = store_.users().findById(id);
  if (!user) return tl::unexpected(fromStore(user.error()));
  if (!*user) return fail(Errc::UserNotFound);
  return std::move(**user);
}

Result<store::User> UserService::findByEmail(const std::string& email) {
  auto user = store_.users().findByEmail(email);
  if (!user) return tl::unexpected(fromStore(user.error()));
  if (!*user) return fail(Errc::UserNotFound);
  return std::move(**user);
}

Result<void> UserService::withinRights(std::string_view role, const Actor& actor,
                                       std::int64_t target, const ClientInfo& client) {
  if (rbac::allows(actor.permissions, policy_.permissionsOf(role))) return {};
  if (actor.spend_refusal) {
    if (auto within = actor.spend_refusal(); !within) return tl::unexpected(within.error());
  }
  audit_.record(auditEvent("user.change_refused", client, actor.id, target,
                           {{"reason", "above_actor_rights"}, {"role", std::string(role)}}));
  return fail(Errc::Forbidden, "role " + std::string(role) + " holds permissions the actor lacks");
}

Result<store::UserChange> UserService::update(std::int64_t id, const store::UserPatch& patch,
                                              const Actor& actor, const ClientInfo& client) {
  std::vector<FieldError> errors;
  if (patch.email) {
    auto p = emailProblem(*patch.email);
    // The address sent back unchanged (a client that sends every field) is no new address, even
    // one the rules now refuse (a placeholder of an external sign-in).
    if (!p.empty()) {
      auto current = store_.users().findById(id);
      if (current && *current && store::sameAddress((*current)->email, *patch.email)) p.clear();
    }
    if (!p.empty()) errors.push_back({{"body", "email"}, p, "value_error.email"});
  }
  if (patch.username) {
    if (auto p = usernameProblem(*patch.username); !p.empty()) {
      errors.push_back({{"body", "username"}, p, "value_error.username"});
    }
  }
  if (!errors.empty())
    return tl::unexpected(Error{Errc::Validation, "user patch", std::move(errors), 0});
  return apply(id, patch, actor, client);
}

Result<store::User> UserService::setRole(std::int64_t id, const std::string& role,
                                         const Actor& actor, const ClientInfo& client) {
  if (!policy_.hasRole(role)) {
    return tl::unexpected(Error{Errc::Validation,
                                "unknown role",
                                {{{"body", "role"}, "Unknown role: " + role, "value_error.role"}},
                                0});
  }
  if (auto ok = withinRights(role, actor, id, client); !ok) return tl::unexpected(ok.error());
  store::UserPatch patch;
  patch.role = role;
  auto change = apply(id, patch, actor, client);
  if (!change) return tl::unexpected(change.error());
  return std::move(change->after);
}

Result<store::UserChange> UserService::apply(std::int64_t id, const store::UserPatch& patch,
                                             const Actor& actor, const ClientInfo& client) {
  // Rights are judged against the stored role, and the change applies only while the user still
  // has that role: a promotion committed between the two sends the judgment round again.
  for (int round = 0; round < 3; ++round) {
    auto user = target(id, actor, client);
    if (!user) return tl::unexpected(user.error());
    store::UserPatch change = patch;
    change.role_is = user->role;
    std::vector<std::string> ending;
    if (patch.is_active && !*patch.is_active) {
      // Whether this deactivates is the store's to say, from its own read in the transaction
      // (the read above may be older than an activation): the sessions are listed whenever the
      // patch asks for it. One transaction: inactive, the watermark, every session and every API
      // key (for good: reactivation revives none of them).
      auto sessions = sessions_.liveSessionsOf(id);
      if (!sessions) return tl::unexpected(sessions.error());
      ending = std::move(*sessions);
      change.deactivated_at = clock_.unixSeconds();
    }
    auto changed = store_.users().update(id, change, rbac::kAdminRole);
    if (!changed && changed.error().code == core::Errc::Aborted) continue;
    if (!changed) return tl::unexpected(fromStore(changed.error()));
    return changedUser(std::move(*changed), ending, actor, client);
  }
  return fail(Errc::Unavailable, "the user's role kept changing under the change");
}

Result<store::UserChange> UserService::changedUser(store::UserChange change,
                                                   const std::vector<std::string>& ending,
                                                   const Actor& actor, const ClientInfo& client) {
  // What changed, as the update's own transaction saw it before and after (two changes racing
  // each other are each recorded with what they replaced).
  const store::User& before = change.before;
  const store::User& after = change.after;
  const std::int64_t id = after.id;
  const auto event = [&](const char* type, boost::json::object detail) {
    audit_.record(auditEvent(type, client, actor.id, id, std::move(detail)));
  };
  if (before.is_active && !after.is_active) {
    // The access tokens of the ended sessions stop at once on every node; the key cache forgets
    // the user's keys (other nodes through the change log).
    cache_.invalidate(id);
    keys_.forgetUser(id);
    // Committed: audited before the access tokens end on every node, which may fail on its own.
    event("user.deactivated", {{"sessions_ended", ending.size()}});
    if (auto ok = sessions_.endTokens(ending); !ok) return tl::unexpected(ok.error());
  } else if (!before.is_active && after.is_active) {
    event("user.activated", {});
  }
  if (before.role != after.role)
    event("user.role_changed", {{"from", before.role}, {"to", after.role}});
  if (before.email != after.email || before.username != after.username) {
    boost::json::object detail{{"email_changed", before.email != after.email},
                               {"username_changed", before.username != after.username}};
    // Which addresses: where resets went before and go now (an outside attack moved an account
    // to an address of its own and back, and the record said only that it changed).
    if (before.email != after.email) {
      detail["email_from"] = before.email;
      detail["email_to"] = after.email;
    }
    event("user.updated", std::move(detail));
  }
  cache_.invalidate(id);
  return change;
}

Result<void> UserService::remove(std::int64_t id, const Actor& actor, const ClientInfo& client) {
  // As apply: removed only while the user still has the role judged (a review: a promotion
  // racing the request let a moderator delete an administrator).
  for (int round = 0; round < 3; ++round) {
    auto user = target(id, actor, client);
    if (!user) return tl::unexpected(user.error());
    auto ok = store_.users().remove(id, rbac::kAdminRole, user->role);
    if (!ok && ok.error().code == core::Errc::Aborted) continue;
    if (!ok) return tl::unexpected(fromStore(ok.error()));
    cache_.invalidate(id);
    audit_.record(auditEvent("user.deleted", client, actor.id, id));
    return {};
  }
  return fail(Errc::Unavailable, "the user's role kept changing under the removal");
}

Result<store::User> UserService::target(std::int64_t id, const Actor& actor,
                                        const ClientInfo& client) {
  auto user = store_.users().findById(id);
  if (!user) return tl::unexpected(fromStore(user.error()));
  if (!*user) return fail(Errc::UserNotFound);
  if (auto ok = withinRights((*user)->role, actor, id, client); !ok)
    return tl::unexpected(ok.error());
  return std::move(**user);
}

Result<void> UserService::endSessions(std::int64_t id, const Actor& actor,
                                      const ClientInfo& client) {
  // The watermark moves too: a token with no session (the seed's, moved in with import-seed)
  // ended only at a password change or deactivation, and a stolen one kept its access, or traded
  // its refresh token for a new session, after an administrator ended "every session" (found by an
  // outside attack). A token issued in this very second is judged by its session (TokenCheck).
  // First: a session opened meanwhile is either listed below or sees the new watermark in its own
  // post-check (Sessions::open); listed first, a trade between the two outlived it (a second
  // attack: 6 of 60).
  // Only while the target still has the role judged (a review: a promotion racing the request
  // let a moderator end a new administrator's sessions); judged again when it moved.
  for (int round = 0;; ++round) {
    auto user = target(id, actor, client);
    if (!user) return tl::unexpected(user.error());
    auto ok = store_.users().setTokensValidAfter(id, clock_.unixSeconds(), user->role);
    if (ok) break;
    if (ok.error().code != core::Errc::Aborted) return tl::unexpected(fromStore(ok.error()));
    if (round == 2) return fail(Errc::Unavailable, "the user's role kept changing");
  }
  cache_.invalidate(id);
  auto live = sessions_.liveSessionsOf(id);
  if (!live) return tl::unexpected(live.error());
  // Their tokens first (SessionEnd::end says why): a retry after a failure between the two
  // still lists the sessions and ends them.
  if (auto ok = sessions_.endTokens(*live); !ok) return ok;
  if (auto ok = store_.sessions().revokeAllForUser(id); !ok)
    return tl::unexpected(fromStore(ok.error()));
  // None was live: no record (an outside attack added a "0 ended" row per call), as an MFA reset
  // that removed no factor.
  if (live->empty()) return {};
  audit_.record(
      auditEvent("sessions.ended", client, actor.id, id, {{"sessions_ended", live->size()}}));
  return {};
}

}  // namespace gatehouse::auth
