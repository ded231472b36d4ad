#include "auth/retention.hpp"

#include "core/log.hpp"

namespace gatehouse::auth {
namespace {

using Steady = std::chrono::steady_clock;

// Batches of `purge` until one comes back short (false) or the pass's time is spent with a full
// batch last (true: rows are left).
template <class Purge>
core::Result<bool> drain(const Retention& r, Steady::time_point until, std::int64_t& total,
                         Purge purge) {
  for (;;) {
    auto n = purge(r.batch);
    if (!n) return tl::unexpected(n.error());
    total += *n;
    if (*n < r.batch) return false;
    if (Steady::now() >= until) return true;
  }
}

}  // namespace

core::Result<Purged> purgeEnded(store::Store& store, std::int64_t now, const Retention& r) {
  const std::int64_t before = now - r.access_ttl.count() - r.keep.count();
  const auto until = Steady::now() + r.budget;
  Purged out;
  const bool keep_traded = now < r.legacy_until;
  auto sessions = drain(r, until, out.sessions, [&](std::int64_t limit) {
    return store.sessions().purgeEnded(before, limit, keep_traded);
  });
  if (!sessions) return tl::unexpected(sessions.error());
  auto keys = drain(r, until, out.api_keys,
                    [&](std::int64_t limit) { return store.apiKeys().purgeDead(before, limit); });
  if (!keys) return tl::unexpected(keys.error());
  // After the keys: the changes their purge just recorded stay a day, as every other.
  const std::int64_t changed_before = now - r.keep.count();
  auto users = drain(r, until, out.changes, [&](std::int64_t limit) {
    return store.users().purgeChanges(changed_before, limit);
  });
  if (!users) return tl::unexpected(users.error());
  auto key_changes = drain(r, until, out.changes, [&](std::int64_t limit) {
    return store.apiKeys().purgeChanges(changed_before, limit);
  });
  if (!key_changes) return tl::unexpected(key_changes.error());
  out.more = *sessions || *keys || *users || *key_changes;
  return out;
}

bool RetentionPass::operator()(std::int64_t now, bool continuing) {
  if (!continuing) {
    if (auto ok = store_.op().purgeCodes(now - 600); !ok)
      spdlog::warn("purging authorization codes failed: {}", ok.error().message);
  }
  auto purged = purgeEnded(store_, now, retention_);
  if (!purged) {
    spdlog::warn("purging ended sessions, API keys and change logs failed: {}",
                 purged.error().message);
    return false;
  }
  total_.sessions += purged->sessions;
  total_.api_keys += purged->api_keys;
  total_.changes += purged->changes;
  if (purged->more) return true;
  if (total_.sessions > 0 || total_.api_keys > 0 || total_.changes > 0)
    spdlog::info("purged {} ended sessions, {} revoked or expired API keys and {} change-log rows",
                 total_.sessions, total_.api_keys, total_.changes);
  total_ = {};
  return false;
}

}  // namespace gatehouse::auth
