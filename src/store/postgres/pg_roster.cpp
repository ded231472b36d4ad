#include "store/postgres/pg_roster.hpp"

#include <utility>

namespace gatehouse::store::postgres {
namespace {

// The first key of a node's lock says how it keeps its one-time values (beside the single-key
// locks of pg_store.cpp, 7261001-7261003: two-key locks are apart from them in pg_locks anyway,
// objsubid 2 against 1).
constexpr int kSharedKey = 7262001;
constexpr int kOwnKey = 7262002;

int keyOf(Keeping keeping) { return keeping == Keeping::Shared ? kSharedKey : kOwnKey; }

}  // namespace

NodeRoster::NodeRoster(std::string url, Keeping keeping, std::int64_t started)
    : url_(std::move(url)), self_{.keeping = keeping, .started = started, .pid = 0} {}

NodeRoster::~NodeRoster() = default;

core::Result<std::unique_ptr<NodeRoster>> NodeRoster::open(std::string url, Keeping keeping,
                                                           std::int64_t unix_seconds) {
  auto roster = std::unique_ptr<NodeRoster>(
      new NodeRoster(withConnectTimeout(std::move(url)), keeping,
                     std::max<std::int64_t>(0, unix_seconds - kRosterEpoch)));
  if (auto c = roster->connection(); !c) return tl::unexpected(c.error());
  return roster;
}

core::Result<Connection*> NodeRoster::connection() {
  if (conn_ && conn_->healthy()) return conn_.get();
  conn_.reset();
  entered_ = false;  // a session's locks end with it
  auto opened = Connection::open(url_);
  if (!opened) return tl::unexpected(opened.error());
  // A roster that waits on a stuck database holds up the janitor's thread: each look is bounded.
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

core::Status NodeRoster::enter() {
  if (entered_) return {};
  auto c = connection();
  if (!c) return tl::unexpected(c.error());
  // Shared: no node waits on another's place, and nothing takes these keys exclusively.
  auto taken = dropOnLoss((*c)->query("SELECT pg_try_advisory_lock_shared($1::int4, $2::int4)",
                                      {keyOf(self_.keeping), self_.started}));
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
  auto left = dropOnLoss((*c)->query("SELECT pg_advisory_unlock_shared($1::int4, $2::int4)",
                                     {keyOf(self_.keeping), self_.started}));
  if (!left) return tl::unexpected(left.error());
  entered_ = false;
  return {};
}

core::Result<std::vector<RosterEntry>> NodeRoster::others() {
  auto c = connection();
  if (!c) return tl::unexpected(c.error());
  // This database's holders only: nodes of other databases on one server are not this one's.
  auto rows = dropOnLoss(
      (*c)->query("SELECT classid::int8, objid::int8, pid FROM pg_locks "
                  "WHERE locktype = 'advisory' AND objsubid = 2 AND granted "
                  "AND classid IN ($1::int8::oid, $2::int8::oid) AND pid <> pg_backend_pid() "
                  "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                  {kSharedKey, kOwnKey}));
  if (!rows) return tl::unexpected(rows.error());
  std::vector<RosterEntry> found;
  found.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    found.push_back({.keeping = rows->int64(i, 0) == kSharedKey ? Keeping::Shared : Keeping::Own,
                     .started = rows->int64(i, 1),
                     .pid = rows->int64(i, 2)});
  }
  return found;
}

}  // namespace gatehouse::store::postgres
