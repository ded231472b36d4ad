// /api/v1/users (API.md, Users): role-based administration; the middleware has authenticated the
// caller and checked the route's permission, the user service checks the target.
#include "api/body.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "importer/import_item.hpp"
#include "importer/importer.hpp"

namespace gatehouse::api {
namespace {

using http::Lane;

// An API key (or an OpenID client's token) never manages its owner's own account (API.md): 403
// when it targets its owner.
[[nodiscard]] std::optional<http::Response> keyOnItsOwner(const Call& c, std::int64_t target) {
  if ((!c.who->api_key_id && c.who->client_id.empty()) || c.who->user->id != target)
    return std::nullopt;
  return errorResponse(
      {auth::Errc::Forbidden, "an API key cannot manage its owner's account", {}, 0}, c.request);
}

http::Response list(Call& c) {
  std::vector<auth::FieldError> errors;
  const auto limit = queryInteger(c.request, "limit", 1, 1000, 100, errors);
  const auto offset = queryInteger(c.request, "offset", 0, INT64_MAX, 0, errors);
  if (!errors.empty()) return validationError(errors);
  auto page = c.services.users.list(*limit, *offset);
  if (!page) return errorResponse(page.error(), c.request);
  boost::json::array items;
  for (const auto& u : page->items) items.push_back(userJson(u));
  return http::Response::json(
      200, boost::json::object{{"items", std::move(items)}, {"total", page->total}});
}

http::Response get(Call& c) {
  auto id = pathId(c.request);
  if (!id) return id.error();
  auto user = c.services.users.get(*id);
  if (!user) return errorResponse(user.error(), c.request);
  return http::Response::json(200, userJson(*user));
}

http::Response patch(Call& c) {
  if (auto refused = c.admit()) return std::move(*refused);
  auto id = pathId(c.request);
  if (!id) return id.error();
  if (auto refused = keyOnItsOwner(c, *id)) return *refused;
  Body& body = *c.body;
  store::UserPatch p;
  p.email = body.optionalString("email");
  p.username = body.optionalString("username");
  p.is_active = body.optionalBool("is_active");
  // A field this endpoint does not apply ("password", "role") is a 422, never a silent 200.
  body.forbidOthers({"email", "username", "is_active"});
  if (!body.ok()) return validationError(body.errors());
  // A stolen session must not lock its owner out (a review found deletion and a role change the
  // same way: refused in their handlers).
  if (p.is_active == false) {
    if (auto refused = refusedOnOwnAccount(c, *id, "deactivation")) return *refused;
  }
  // Changing an email is a step-up operation (API.md, Second factor): the address is where a
  // reset link goes. Only this field, so the route's other changes keep working with API keys.
  if (p.email) {
    if (auto refused = refusedOnOwnAccount(c, *id, "the email")) return *refused;
    if (auto fresh = c.services.token_check.stepUp(*c.who, c.services.step_up_max_age); !fresh)
      return errorResponse(fresh.error(), c.request);
  }
  auto change = c.services.users.update(*id, p, actorOf(c), clientOf(c.request));
  if (!change) return errorResponse(change.error(), c.request);
  // The address it had hears of it (found by an outside attack: a moderator moved an account to
  // an address of theirs, reset its password there and moved it back, and the owner heard
  // nothing, every later notice going to the new address): the address the update replaced (a
  // review: read before it, a change racing this one went untold).
  if (!store::sameAddress(change->before.email, change->after.email))
    c.notify(change->before, mail::Notice::EmailChanged, change->after.email);
  return http::Response::json(200, userJson(change->after));
}

http::Response remove(Call& c) {
  if (auto refused = c.admit()) return std::move(*refused);
  auto id = pathId(c.request);
  if (!id) return id.error();
  if (auto refused = keyOnItsOwner(c, *id)) return *refused;
  if (auto refused = refusedOnOwnAccount(c, *id, "deletion")) return *refused;
  if (auto ok = c.services.users.remove(*id, actorOf(c), clientOf(c.request)); !ok)
    return errorResponse(ok.error(), c.request);
  return http::Response::empty(204);
}

http::Response setRole(Call& c) {
  if (auto refused = c.admit()) return std::move(*refused);
  auto id = pathId(c.request);
  if (!id) return id.error();
  if (auto refused = keyOnItsOwner(c, *id)) return *refused;
  Body& body = *c.body;
  const std::string role = body.requiredString("role");
  body.forbidOthers({"role"});
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = refusedOnOwnAccount(c, *id, "a role change")) return *refused;
  auto user = c.services.users.setRole(*id, role, actorOf(c), clientOf(c.request));
  if (!user) return errorResponse(user.error(), c.request);
  return http::Response::json(200, userJson(*user));
}

// An administrator sets a user's password: every session of theirs ends, and their API keys
// unless kept (one may have been minted by whoever the reset evicts).
http::Response setPassword(Call& c) {
  if (auto refused = c.admit()) return std::move(*refused);
  auto id = pathId(c.request);
  if (!id) return id.error();
  if (auto refused = keyOnItsOwner(c, *id)) return *refused;
  Body& body = *c.body;
  const std::string next = body.requiredString("new_password");
  const bool keep_api_keys = body.optionalBool("keep_api_keys").value_or(false);
  body.forbidOthers({"new_password", "keep_api_keys"});
  if (!body.ok()) return validationError(body.errors());
  if (auto refused = refusedOnOwnAccount(c, *id, "the password")) return *refused;
  if (auto problems = c.services.passwords.newPasswordProblems(next, "new_password");
      !problems.empty())
    return validationError(problems);
  const auto client = clientOf(c.request);
  auto target = c.services.users.target(*id, actorOf(c), client);
  if (!target) return errorResponse(target.error(), c.request);
  // Set only while the target still has the role judged above (a review: a promotion racing this
  // request gave a moderator an administrator's password).
  // And only while the caller still holds the rights it was let in with, asked after the hashing.
  const auto caller_still = [&c] { return c.services.token_check.stillValid(*c.who, true); };
  if (auto ok = c.services.passwords.setPassword(*id, next, client, keep_api_keys, c.who->user->id,
                                                 target->role, caller_still);
      !ok)
    return errorResponse(ok.error(), c.request);
  if (!keep_api_keys) c.services.api_keys.forgetUser(*id);
  c.notify(*target, mail::Notice::PasswordChanged);
  return http::Response::empty(204);
}

http::Response endSessions(Call& c) {
  if (auto refused = c.admit()) return std::move(*refused);
  auto id = pathId(c.request);
  if (!id) return id.error();
  if (auto refused = keyOnItsOwner(c, *id)) return *refused;
  if (auto ok = c.services.users.endSessions(*id, actorOf(c), clientOf(c.request)); !ok)
    return errorResponse(ok.error(), c.request);
  return http::Response::empty(204);
}

// Users moved in from elsewhere (API.md, Moving in from elsewhere): up to a thousand in one
// transaction, one result per item; a role above the caller's own is refused for its item.
http::Response importUsers(Call& c) {
  Body& body = *c.body;
  const boost::json::array* users = body.requiredArray("users", importer::kBatchSize);
  body.forbidOthers({"users"});
  if (!body.ok()) return validationError(body.errors());
  const std::int64_t now = core::SystemClock().unixSeconds();  // created_at when none is given
  std::vector<importer::Candidate> candidates;
  for (std::size_t i = 0; i < users->size(); ++i) {
    const auto* o = (*users)[i].if_object();
    const auto* email = o != nullptr ? o->if_contains("email") : nullptr;
    candidates.push_back(
        {i, email != nullptr && email->is_string() ? std::string(email->get_string()) : "",
         importer::parseItem((*users)[i], c.services.policy, now)});
  }
  importer::Importer importer(c.services.store.users(), c.services.policy, c.services.audit);
  auto results = importer.importBatch(std::move(candidates), actorOf(c), clientOf(c.request));
  if (!results) return errorResponse(auth::storeFailure(results.error()), c.request);
  boost::json::array items;
  importer::Totals totals;
  totals.add(*results);
  for (const auto& r : *results) items.push_back(importer::resultJson(r, "index"));
  return http::Response::json(200, boost::json::object{{"results", std::move(items)},
                                                       {"created", totals.created},
                                                       {"skipped", totals.skipped},
                                                       {"errors", totals.errors}});
}

const Reply kNotFound{404, "User not found", "ErrorDetail"};
const Reply kAboveRights{403,
                         "Insufficient permissions (also: the target's permissions are not all the "
                         "caller's)",
                         "ErrorDetail"};

}  // namespace

// The handlers the pages run for their forms (handlers.hpp).
namespace handlers {
http::Response patchUser(Call& c) { return api::patch(c); }
http::Response setRole(Call& c) { return api::setRole(c); }
http::Response setUserPassword(Call& c) { return api::setPassword(c); }
http::Response endUserSessions(Call& c) { return api::endSessions(c); }
}  // namespace handlers

void addUserRoutes(RouteTable& t) {
  t.add({.method = "GET",
         .path = "/api/v1/users",
         .credential = Credential::TokenOrKey,
         .permissions = {"users:read"},
         .lane = Lane::Storage,
         .summary = "List users",
         .tag = "users",
         .params = {{"limit", "query", "integer", false, "1 to 1000 (100)"},
                    {"offset", "query", "integer", false, "0 or more (0)"}},
         .replies = {{200, "A page of users", "UserPage"}},
         .handler = list});
  t.add({.method = "POST",
         .path = "/api/v1/users/import",
         // Accounts with passwords of the caller's choosing, administrators among them: a
         // credential that outlives whoever made it, as an administrator's password reset is
         // (an outside attack: an API key made an administrator that lived on after the key).
         .credential = Credential::UserToken,
         .permissions = {"users:write", "roles:manage"},
         .lane = Lane::Storage,
         .step_up = true,
         .summary = "Import users with their password hashes",
         .tag = "users",
         .description =
             "Up to 1000 users in one transaction, one result per item: `created` (with `id`), "
             "`skipped` (a user with that email exists, with its `id`, and is left as it is, so a "
             "second run changes nothing and names every user) or `error` with a `reason`. "
             "`password_hash` may be bcrypt, "
             "argon2id/argon2i, passlib or Django PBKDF2, or a Keycloak credential object; each "
             "is verified as it is and replaced by the configured scheme at the next login. A "
             "role whose permissions are not all the caller's is refused for its item, and "
             "`email_verified: true` unless the caller holds every permission. A step-up "
             "operation; never with an API key.",
         .body = BodyKind::Json,
         .body_schema = "UserImport",
         .replies = {{200, "One result per item", "UserImportReport"}},
         .handler = importUsers});
  t.add({.method = "GET",
         .path = "/api/v1/users/{id}",
         .credential = Credential::TokenOrKey,
         .permissions = {"users:read"},
         .lane = Lane::Storage,
         .summary = "Get a user",
         .tag = "users",
         .replies = {{200, "The user", "User"}, kNotFound},
         .handler = get});
  t.add({.method = "PATCH",
         .path = "/api/v1/users/{id}",
         .credential = Credential::TokenOrKey,
         .permissions = {"users:write"},
         .lane = Lane::Storage,
         .summary = "Change a user's email, username or active flag",
         .tag = "users",
         .description = "The target's permissions must all be the caller's. Deactivation ends "
                        "the user's sessions, tokens and API keys for good. Changing `email` is a "
                        "step-up operation: a recent sign-in (with a second factor, one that "
                        "used it); never with an API key, and never the caller's own (403: "
                        "/auth/email/change confirms it at the new address). Nor is the "
                        "caller's own account deactivated here (403).",
         .body = BodyKind::Json,
         .body_schema = "UserPatch",
         .replies = {{200, "The user", "User"},
                     kAboveRights,
                     kNotFound,
                     {409, "Email already registered / Username already taken / last admin",
                      "ErrorDetail"}},
         .limits = {kRefusedChangeLimit},
         .handler = patch});
  t.add({.method = "DELETE",
         .path = "/api/v1/users/{id}",
         .credential = Credential::TokenOrKey,
         .permissions = {"users:delete"},
         .lane = Lane::Storage,
         .summary = "Delete a user",
         .tag = "users",
         .description = "The target's permissions must all be the caller's; never the caller's "
                        "own account (403).",
         .replies = {{204, "Deleted", ""},
                     kAboveRights,
                     kNotFound,
                     {409, "The last active admin", "ErrorDetail"}},
         .limits = {kRefusedChangeLimit},
         .handler = remove});
  t.add({.method = "PUT",
         .path = "/api/v1/users/{id}/role",
         .credential = Credential::TokenOrKey,
         .permissions = {"roles:manage"},
         .lane = Lane::Storage,
         .summary = "Set a user's role",
         .tag = "users",
         .description = "The target's and the new role's permissions must all be the caller's; "
                        "never the caller's own role (403: another administrator changes it).",
         .body = BodyKind::Json,
         .body_schema = "RoleChange",
         .replies = {{200, "The user", "User"},
                     kAboveRights,
                     kNotFound,
                     {409, "The last active admin", "ErrorDetail"}},
         .limits = {kRefusedChangeLimit},
         .handler = setRole});
  t.add({.method = "PUT",
         .path = "/api/v1/users/{id}/password",
         .credential = Credential::UserToken,
         .permissions = {"users:write"},
         .lane = Lane::Hashing,
         .step_up = true,
         .summary = "Set a user's password (an administrator's reset)",
         .tag = "users",
         .description = "The target's permissions must all be the caller's, and the target is "
                        "not the caller (403: one's own password is changed at /auth/password). "
                        "Every session of the user ends, and their API keys unless "
                        "`keep_api_keys` is true. A step-up operation.",
         .body = BodyKind::Json,
         .body_schema = "SetPasswordRequest",
         .replies = {{204, "Set", ""}, kAboveRights, kNotFound},
         .limits = {kRefusedChangeLimit},
         .handler = setPassword});
  t.add({.method = "DELETE",
         .path = "/api/v1/users/{id}/sessions",
         .credential = Credential::UserToken,
         .permissions = {"users:write"},
         .lane = Lane::Storage,
         .summary = "End every session of a user",
         .tag = "users",
         .description = "The target's permissions must all be the caller's. Their access tokens "
                        "stop working on every node at once; API keys are untouched.",
         .replies = {{204, "Ended", ""}, kAboveRights, kNotFound},
         .limits = {kRefusedChangeLimit},
         .handler = endSessions});
}

}  // namespace gatehouse::api
