#include "auth/user_cache.hpp"

#include <mutex>

namespace gatehouse::auth {

core::Result<std::shared_ptr<const store::User>> UserCache::get(std::int64_t id, core::Wait wait) {
  if (log_.trusted()) {
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

namespace {
constexpr std::string_view kChangePrefix = "user-changed ";
}  // namespace

void UserCache::invalidate(std::int64_t id) {
  drop(id);
  if (on_change_) on_change_(changeMessage(id));
}

std::string UserCache::changeMessage(std::int64_t id) {
  return std::string(kChangePrefix) + std::to_string(id);
}

bool UserCache::applyMessage(std::string_view message) {
  const auto id = changedId(message, kChangePrefix);
  if (!id) return false;
  drop(*id);
  return true;
}

void UserCache::drop(std::int64_t id) {
  const std::unique_lock lock(mutex_);
  generation_.fetch_add(1);
  entries_.erase(id);
}

core::Status UserCache::sync() {
  return log_.follow([this](std::int64_t seq) { return users_.changesSince(seq); },
                     [this](const store::ChangeLogRead& changes) {
                       const std::unique_lock lock(mutex_);
                       generation_.fetch_add(1);
                       if (changes.missed) {
                         entries_.clear();  // what changed unread is no longer known
                       } else {
                         for (const auto id : changes.ids) entries_.erase(id);
                       }
                     });
}

std::size_t UserCache::size() const {
  const std::shared_lock lock(mutex_);
  return entries_.size();
}

}  // namespace gatehouse::auth
