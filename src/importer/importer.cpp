#include "importer/importer.hpp"

#include "rbac/policy.hpp"

namespace gatehouse::importer {

boost::json::object resultJson(const ItemResult& r, std::string_view position_name) {
  using Kind = ItemResult::Kind;
  boost::json::object out{{position_name, r.position}};
  if (!r.email.empty()) out["email"] = r.email;
  out["result"] = r.kind == Kind::Created   ? "created"
                  : r.kind == Kind::Skipped ? "skipped"
                                            : "error";
  if (r.kind != Kind::Error && r.id != 0) out["id"] = r.id;
  if (r.kind == Kind::Error) out["reason"] = r.reason;
  if (r.legacy_subject_dropped) {
    out["note"] =
        "its old id was imported before as another user (the old system gave a deleted user's id "
        "to a new one): old tokens naming that id are refused from now on";
  }
  return out;
}

void Totals::add(const std::vector<ItemResult>& results) {
  for (const auto& r : results) {
    if (r.kind == ItemResult::Kind::Created) ++created;
    if (r.kind == ItemResult::Kind::Skipped) ++skipped;
    if (r.kind == ItemResult::Kind::Error) ++errors;
  }
}

core::Result<std::vector<ItemResult>> Importer::importBatch(std::vector<Candidate> candidates,
                                                            const auth::Actor& actor,
                                                            const auth::ClientInfo& client,
                                                            std::string_view source,
                                                            const Committed& committed) {
  std::vector<ItemResult> results(candidates.size());
  std::vector<store::ImportedUser> valid;
  std::vector<std::size_t> slot;  // results index of each valid user
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    Candidate& c = candidates[i];
    results[i].position = c.position;
    results[i].email = c.email;
    if (!c.user) {
      results[i].reason = c.user.error();
      continue;
    }
    // No one hands out more than they hold (a moderator importing administrators).
    const auto& granted = policy_.permissionsOf(c.user->user.role);
    if (!rbac::allows(actor.permissions, granted)) {
      results[i].reason = "role: above your own";
      continue;
    }
    // An address vouched for is one an external sign-in with that verified address joins
    // (docs/oidc.md): only a caller holding every permission may vouch (an outside attack: a
    // custom role with users:write and roles:manage pre-made a victim's account, with a password
    // of its choosing, for the victim's later sign-in with Google to land in).
    if (c.user->user.email_verified && !rbac::allows(actor.permissions, policy_.allPermissions())) {
      results[i].reason = "email_verified: true needs every permission";
      continue;
    }
    valid.push_back(std::move(*c.user));
    slot.push_back(i);
  }
  if (!valid.empty()) {
    auto outcomes = users_.importUsers(valid, source);
    if (!outcomes) return tl::unexpected(outcomes.error());
    for (std::size_t k = 0; k < outcomes->size(); ++k) {
      ItemResult& r = results[slot[k]];
      const store::ImportOutcome& o = (*outcomes)[k];
      r.legacy_subject_dropped = o.legacy_subject_dropped;
      switch (o.kind) {
        case store::ImportOutcome::Kind::Created:
          r.kind = ItemResult::Kind::Created;
          r.id = o.user_id;
          break;
        case store::ImportOutcome::Kind::Skipped:
          // Its id, so that a run repeated after one cut short names every user (a crash test:
          // the ids of a batch stored before the kill were never told).
          r.kind = ItemResult::Kind::Skipped;
          r.id = o.user_id;
          break;
        case store::ImportOutcome::Kind::UsernameTaken:
          r.reason = "username already taken";
          break;
      }
    }
  }
  if (committed) committed(results);
  // Each account made has its own record, as one made by hand does: who it is, its role (an
  // import can make administrators) and where it came from (an outside attack found only the
  // batch's counts).
  for (std::size_t k = 0; k < slot.size(); ++k) {
    const ItemResult& r = results[slot[k]];
    if (r.kind != ItemResult::Kind::Created) continue;
    audit_.record(auth::auditEvent("user.created", client, actor.id, r.id,
                                   {{"role", valid[k].user.role},
                                    {"email_verified", valid[k].user.email_verified},
                                    {"source", source}}));
  }
  Totals totals;
  totals.add(results);
  audit_.record(auth::auditEvent("user.import", client, actor.id, std::nullopt,
                                 {{"source", source},
                                  {"created", totals.created},
                                  {"skipped", totals.skipped},
                                  {"errors", totals.errors}}));
  return results;
}

}  // namespace gatehouse::importer
