#include "auth/revocations.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <mutex>

#include "core/log.hpp"

namespace gatehouse::auth {

void RevocationList::raise(std::string key, std::int64_t expires_at) {
  const auto [at, added] = entries_.try_emplace(std::move(key), expires_at);
  if (!added && at->second < expires_at) at->second = expires_at;
}

core::Status RevocationList::load(std::int64_t now) {
  auto rows = store_->active(now);
  if (!rows) return tl::unexpected(rows.error());
  // In short turns of the lock: the janitor reads the list again every 30 s, and one turn over a
  // few hundred thousand entries held every token check for a fifth of a second (a review).
  constexpr std::size_t kTurn = 1024;
  for (std::size_t from = 0; from < rows->size(); from += kTurn) {
    const std::unique_lock lock(mutex_);
    const std::size_t to = std::min(rows->size(), from + kTurn);
    for (std::size_t i = from; i < to; ++i) {
      auto& [jti, exp] = (*rows)[i];
      raise(std::move(jti), exp);
    }
  }
  return {};
}

core::Status RevocationList::revoke(std::string_view jti, std::int64_t expires_at) {
  if (auto ok = store_->add(jti, expires_at); !ok) return ok;
  announce(jti, expires_at);
  return {};
}

void RevocationList::announce(std::string_view jti, std::int64_t expires_at) {
  {
    const std::unique_lock lock(mutex_);
    raise(std::string(jti), expires_at);
  }
  // Stored and held here, the revocation stands: a message the bus refused (Redis denying
  // PUBLISH, a connection lost) is logged, and the other nodes read it from the database (every
  // 30 s, and whenever their feed resyncs). Reported as a failure, it made its callers stop
  // halfway: a logout that ended the tokens but not the session, whose refresh token then went
  // on (an outside attack).
  if (bus_ != nullptr) {
    if (auto told = bus_->publish(message(jti, expires_at)); !told)
      spdlog::error(
          "a revocation is stored but the other nodes were not told at once ({}): they read it "
          "from the database within 30 s",
          told.error().message);
  }
}

// Session entries share the set (and its storage and bus) with token ids under a prefix no jti
// can have (store::sessionRevocationKey: the store writes them too, on refresh-token reuse).
constexpr std::string_view kSessionPrefix = store::kSessionRevocationPrefix;

core::Status RevocationList::revokeSession(std::string_view session_id, std::int64_t until) {
  return revoke(store::sessionRevocationKey(session_id), until);
}

void RevocationList::announceSession(std::string_view session_id, std::int64_t until) {
  announce(store::sessionRevocationKey(session_id), until);
}

namespace {

// Whether `prefix` + `id` is on the list, the key built on the stack (the token check allocates
// nothing). An id longer than any the server hands out is on no list.
template <std::size_t N>
bool listedUnder(const RevocationList& list, std::string_view prefix, std::string_view id) {
  std::array<char, N> key{};
  if (id.size() + prefix.size() > key.size()) return false;
  std::copy(prefix.begin(), prefix.end(), key.begin());
  std::copy(id.begin(), id.end(), key.begin() + prefix.size());
  return list.isRevoked(std::string_view(key.data(), prefix.size() + id.size()));
}

}  // namespace

bool RevocationList::isSessionRevoked(std::string_view session_id) const {
  return listedUnder<96>(*this, kSessionPrefix, session_id);
}

void RevocationList::announceClient(std::string_view client_id, std::int64_t until) {
  announce(store::clientRevocationKey(client_id), until);
}

bool RevocationList::isClientRevoked(std::string_view client_id) const {
  // op::ClientRegistry::find takes no id above 128 bytes.
  return listedUnder<160>(*this, store::kClientRevocationPrefix, client_id);
}

std::string RevocationList::message(std::string_view jti, std::int64_t expires_at) {
  return "revoked " + std::to_string(expires_at) + " " + std::string(jti);
}

bool RevocationList::applyMessage(std::string_view message) {
  constexpr std::string_view kPrefix = "revoked ";
  if (!message.starts_with(kPrefix)) return false;
  message.remove_prefix(kPrefix.size());
  const auto space = message.find(' ');
  if (space == std::string_view::npos || space + 1 >= message.size()) return false;
  std::int64_t exp = 0;
  const auto [p, ec] = std::from_chars(message.data(), message.data() + space, exp);
  if (ec != std::errc() || p != message.data() + space) return false;
  const std::unique_lock lock(mutex_);
  raise(std::string(message.substr(space + 1)), exp);
  return true;
}

bool RevocationList::isRevoked(std::string_view jti) const {
  const std::shared_lock lock(mutex_);
  return entries_.find(jti) != entries_.end();
}

std::size_t RevocationList::purge(std::int64_t now) {
  std::size_t dropped = 0;
  {
    const std::unique_lock lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second <= now) {
        it = entries_.erase(it);
        ++dropped;
      } else {
        ++it;
      }
    }
  }
  (void)store_->purgeExpired(now);
  return dropped;
}

std::size_t RevocationList::size() const {
  const std::shared_lock lock(mutex_);
  return entries_.size();
}

}  // namespace gatehouse::auth
