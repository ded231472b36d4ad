#include "store/postgres/pg_roster.hpp"

#include <algorithm>
#include <utility>

namespace gatehouse::store::postgres {
namespace {

// A node's lock has two 32-bit keys. The first is a base that says how the node keeps its
// one-time values, plus the high bits of when it joined (a thousand values' room: 136 years a
// value); the second the low 32 bits. Two-key locks are apart from pg_store.cpp's single-key ones
// in pg_locks (objsubid 2 against 1).
constexpr std::int64_t kSharedBase = 726'201'000;
constexpr std::int64_t kOwnBase = 726'202'000;
constexpr std::int64_t kBaseRoom = 1000;

std::int64_t baseOf(Keeping keeping) { return keeping == Keeping::Shared ? kSharedBase : kOwnBase; }

// The keys as the int4 parameters PostgreSQL takes (the second wraps to negative: pg_locks shows
// it as the unsigned oid).
std::pair<std::int64_t, std::int64_t> keysOf(const RosterEntry& self) {
  const std::int64_t high = baseOf(self.keeping) + (self.started >> 32);
  const auto low = static_cast<std::int64_t>(
      static_cast<std::int32_t>(static_cast<std::uint32_t>(self.started)));
  return {high, low};
}

}  // namespace

NodeRoster::NodeRoster(std::string url, Keeping keeping)
    : url_(std::move(url)), self_{.keeping = keeping, .started = 0, .pid = 0} {}

NodeRoster::~NodeRoster() = default;

core::Result<std::unique_ptr<NodeRoster>> NodeRoster::open(std::string url, Keeping keeping) {
  auto roster =
      std::unique_ptr<NodeRoster>(new NodeRoster(withConnectTimeout(std::move(url)), keeping));
  auto now = roster->databaseMillis();
  if (!now) return tl::unexpected(now.error());
  roster->self_.started = std::max<std::int64_t>(0, *now - kRosterEpoch * 1000);
  if ((roster->self_.started >> 32) >= kBaseRoom)
    return core::makeError(core::Errc::Internal,
                           "the node roster: the database's clock is past 2156");
  return roster;
}

core::Result<Connection*> NodeRoster::connection() {
  if (conn_ && conn_->healthy()) return conn_.get();
  conn_.reset();
  entered_ = false;  // a session's locks end with it
  auto opened = Connection::open(url_);
  if (!opened) return tl::unexpected(opened.error());
  // A look that waits on a stuck database holds up the watch and its lease: each is bounded.
  if (auto ok = (*opened)->exec("SET statement_timeout = 5000"); !ok)
    return tl::unexpected(ok.error());
  auto pid = (*opened)->query("SELECT pg_backend_pid()");
  if (!pid) return tl::unexpected(pid.error());
  self_.pid = pid->int64(0, 0);
  conn_ = std::move(*opened);
  return conn_.get();
}

template <class T>
core::Result<T> NodeRoster::dropOnLoss(core::Result<T> result) {
  if (!result && conn_ && !conn_->healthy()) {
    conn_.reset();
    entered_ = false;
  }
  return result;
}

core::Result<std::int64_t> NodeRoster::databaseMillis() {
  auto c = connection();
  if (!c) return tl::unexpected(c.error());
  auto now = dropOnLoss((*c)->query("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8"));
  if (!now) return tl::unexpected(now.error());
  return now->int64(0, 0);
}

core::Status NodeRoster::enter() {
  if (entered_) return {};
  auto c = connection();
  if (!c) return tl::unexpected(c.error());
  // Shared: no node waits on another's place, and nothing takes these keys exclusively.
  const auto [high, low] = keysOf(self_);
  auto taken = dropOnLoss(
      (*c)->query("SELECT pg_try_advisory_lock_shared($1::int4, $2::int4)", {high, low}));
  if (!taken) return tl::unexpected(taken.error());
  if (!taken->boolean(0, 0))
    return core::makeError(core::Errc::Internal, "the node roster's lock was not granted");
  entered_ = true;
  return {};
}

core::Status NodeRoster::leave() {
  if (!entered_) return {};
  auto c = connection();
  if (!c) return tl::unexpected(c.error());
  if (!entered_) return {};  // the connection was new: nothing held
  const auto [high, low] = keysOf(self_);
  auto left =
      dropOnLoss((*c)->query("SELECT pg_advisory_unlock_shared($1::int4, $2::int4)", {high, low}));
  if (!left) return tl::unexpected(left.error());
  entered_ = false;
  return {};
}

core::Result<std::vector<RosterEntry>> NodeRoster::others() {
  auto c = connection();
  if (!c) return tl::unexpected(c.error());
  // This database's holders only: nodes of other databases on one server are not this one's.
  auto rows = dropOnLoss((*c)->query(
      "SELECT classid::int8, objid::int8, pid FROM pg_locks "
      "WHERE locktype = 'advisory' AND objsubid = 2 AND granted "
      "AND classid::int8 >= $1::int8 AND classid::int8 < $2::int8 AND pid <> pg_backend_pid() "
      "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      {kSharedBase, kOwnBase + kBaseRoom}));
  if (!rows) return tl::unexpected(rows.error());
  std::vector<RosterEntry> found;
  found.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    const std::int64_t high = rows->int64(i, 0);
    const bool shared = high < kSharedBase + kBaseRoom;
    if (!shared && high < kOwnBase) continue;  // between the two ranges: not a node's
    const std::int64_t base = shared ? kSharedBase : kOwnBase;
    found.push_back({.keeping = shared ? Keeping::Shared : Keeping::Own,
                     .started = ((high - base) << 32) | rows->int64(i, 1),
                     .pid = rows->int64(i, 2)});
  }
  return found;
}

}  // namespace gatehouse::store::postgres
