#include "auth/retention.hpp"

namespace gatehouse::auth {
namespace {

// Batches of `purge` until one comes back short or the pass's share is spent.
template <class Purge>
core::Result<std::int64_t> drain(const Retention& r, Purge purge) {
  std::int64_t total = 0;
  for (int i = 0; i < r.batches_per_pass; ++i) {
    auto n = purge(r.batch);
    if (!n) return tl::unexpected(n.error());
    total += *n;
    if (*n < r.batch) break;
  }
  return total;
}

}  // namespace

core::Result<Purged> purgeEnded(store::Store& store, std::int64_t now, const Retention& r) {
  const std::int64_t before = now - r.access_ttl.count() - r.keep.count();
  Purged out;
  auto sessions =
      drain(r, [&](std::int64_t limit) { return store.sessions().purgeEnded(before, limit); });
  if (!sessions) return tl::unexpected(sessions.error());
  out.sessions = *sessions;
  auto keys =
      drain(r, [&](std::int64_t limit) { return store.apiKeys().purgeDead(before, limit); });
  if (!keys) return tl::unexpected(keys.error());
  out.api_keys = *keys;
  return out;
}

}  // namespace gatehouse::auth
