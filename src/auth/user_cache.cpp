#include "auth/user_cache.hpp"

#include <mutex>

namespace gatehouse::auth {

core::Result<std::shared_ptr<const store::User>> UserCache::get(std::int64_t id, core::Wait wait) {
  if (trust_.trusted()) {
    const std::shared_lock lock(mutex_);
    if (auto it = entries_.find(id); it != entries_.end()) return it->second;
  }
  if (wait == core::Wait::No) return core::makeError(core::Errc::WouldBlock, "user not cached");
  // A change racing this read bumps the generation; then the (possibly stale) row is not kept.
  const std::uint64_t generation = generation_.load();
  auto found = users_.findById(id);
  if (!found) return tl::unexpected(found.error());
  if (!*found) return std::shared_ptr<const store::User>();
  auto user = std::make_shared<const store::User>(std::move(**found));
  const std::unique_lock lock(mutex_);
  if (generation_.load() == generation) {
    if (entries_.size() >= max_entries_) entries_.clear();
    entries_[id] = user;
  }
  return user;
}

void UserCache::invalidate(std::int64_t id) {
  {
    const std::unique_lock lock(mutex_);
    generation_.fetch_add(1);
    entries_.erase(id);
  }
  if (on_change_) on_change_();
}

core::Status UserCache::sync() {
  const std::lock_guard guard(sync_mutex_);
  const std::int64_t started = trust_.now();
  // Every page of a backlog before the cache counts as read (a node back from an outage).
  for (bool more = true; more;) {
    auto changes = users_.changesSince(seq_);
    if (!changes) return tl::unexpected(changes.error());
    if (seq_ >= 0 && (changes->missed || !changes->user_ids.empty())) {
      const std::unique_lock lock(mutex_);
      generation_.fetch_add(1);
      if (changes->missed) {
        entries_.clear();  // what changed while this node did not read is no longer known
      } else {
        for (const auto id : changes->user_ids) entries_.erase(id);
      }
    }
    seq_ = changes->seq;
    more = changes->more;
  }
  trust_.read(started);
  return {};
}

std::size_t UserCache::size() const {
  const std::shared_lock lock(mutex_);
  return entries_.size();
}

}  // namespace gatehouse::auth
