#include "state/redis.hpp"

#include <cassert>
#include <charconv>
#include <poll.h>

#include "core/blocking.hpp"
#include "core/log.hpp"
#include "core/this_thread.hpp"
#include "state/local.hpp"

namespace gatehouse::state {
namespace {

using core::Errc;
using core::makeError;

std::int64_t toInt(const RedisReply& r) {
  if (r.type == RedisReply::Type::Integer) return r.integer;
  std::int64_t v = 0;
  if (r.type == RedisReply::Type::String)
    std::from_chars(r.text.data(), r.text.data() + r.text.size(), v);
  return v;
}

// LocalRateLimiter::hit as one atomic step: a key's window opens at its first hit (by the nodes'
// clocks, as the in-process limiter) and Redis forgets the key soon after the window closes.
constexpr std::string_view kHitScript = R"lua(
local now = tonumber(ARGV[1])
local len = tonumber(ARGV[2])
local start = tonumber(redis.call('HGET', KEYS[1], 'start') or '-1')
if start < 0 or now >= start + len or now < start - len then
  redis.call('HSET', KEYS[1], 'start', now, 'count', 0)
  redis.call('EXPIRE', KEYS[1], len + 5)
  start = now
end
local n = redis.call('HINCRBY', KEYS[1], 'count', 1)
return {n, start + len - now}
)lua";

// LocalLoginGuard::check as one atomic step: 2 locked, 1 delayed, 0 open. A lock cooled down is
// deleted in the same step as it is read: as two commands, a failure another node counted
// between them was erased with it (a review of the stores).
constexpr std::string_view kCheckScript = R"lua(
local v = redis.call('HMGET', KEYS[1], 'blocked_until', 'locked')
local now = tonumber(ARGV[1])
local blocked_until = tonumber(v[1] or '0') or 0
if v[2] == '1' then
  if now < blocked_until then return 2 end
  redis.call('DEL', KEYS[1])
  return 0
end
if now < blocked_until then return 1 end
return 0
)lua";

// LocalLoginGuard::failed as one atomic step.
constexpr std::string_view kFailedScript = R"lua(
local f = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local now = tonumber(ARGV[1])
local delay_after = tonumber(ARGV[2])
local max_delay = tonumber(ARGV[3])
local lock_after = tonumber(ARGV[4])
local cooldown = tonumber(ARGV[5])
if f >= lock_after then
  redis.call('HSET', KEYS[1], 'locked', 1, 'blocked_until', now + cooldown)
  redis.call('EXPIRE', KEYS[1], cooldown + 86400)
  return 1
end
if delay_after > 0 and f >= delay_after then
  local steps = math.min(f - delay_after, 30)
  -- whole seconds: + 1 makes the wait at least the delay (now + delay may be milliseconds away)
  redis.call('HSET', KEYS[1], 'blocked_until', now + math.floor(math.min(2 ^ steps, max_delay)) + 1)
end
redis.call('EXPIRE', KEYS[1], 86400)
return 0
)lua";

// LocalLoginGuard::attempt as one atomic step: {2, blocked_until} locked, {1, blocked_until}
// delayed; open, the attempt is counted as a failure (kFailedScript, as a function) and 11 says it
// locked the account, 10 that it did not.
const std::string& attemptScript() {
  static const std::string script = std::string(R"lua(
local v = redis.call('HMGET', KEYS[1], 'blocked_until', 'locked')
local blocked_until = tonumber(v[1] or '0') or 0
if v[2] == '1' then
  if tonumber(ARGV[1]) < blocked_until then return {2, blocked_until} end
  redis.call('DEL', KEYS[1])
elseif tonumber(ARGV[1]) < blocked_until then
  return {1, blocked_until}
end
local failed = function())lua") + std::string(kFailedScript) +
                                    "end\nreturn 10 + failed()\n";
  return script;
}

}  // namespace

core::Result<RedisAddress> parseRedisUrl(std::string_view url) {
  RedisAddress a;
  a.tls = url.starts_with("rediss://");
  if (!a.tls && !url.starts_with("redis://"))
    return makeError(Errc::InvalidArgument,
                     "REDIS_URL: expected redis://host:port[/db] or rediss://host:port[/db]");
  std::string_view rest = url.substr(a.tls ? 9 : 8);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (const auto colon = auth.find(':'); colon != std::string_view::npos) {
      a.user = std::string(auth.substr(0, colon));
      a.password = std::string(auth.substr(colon + 1));
    } else {
      a.password = std::string(auth);
    }
  }
  std::string_view hostport = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      const auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), a.db);
      if (ec != std::errc() || p != db.data() + db.size() || a.db < 0)
        return makeError(Errc::InvalidArgument, "REDIS_URL: the database must be a number");
    }
  }
  // [v6 address]:port, or host:port.
  const auto close = hostport.find(']');
  if (const auto colon = hostport.rfind(':');
      colon != std::string_view::npos && (close == std::string_view::npos || colon == close + 1)) {
    const std::string_view port = hostport.substr(colon + 1);
    const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
    if (ec != std::errc() || p != port.data() + port.size() || a.port <= 0 || a.port > 65535)
      return makeError(Errc::InvalidArgument, "REDIS_URL: bad port");
    hostport = hostport.substr(0, colon);
  }
  if (!hostport.empty()) a.host = std::string(hostport);
  return a;
}

core::Result<std::unique_ptr<RedisConnection>> RedisClient::connect() const {
  return RedisConnection::open(address_, timeout_);
}

core::Result<RedisReply> RedisClient::command(std::initializer_list<std::string_view> args) {
  assert(!core::NoWaitScope::active() && "Redis must not be waited on here: see core::NoWaitScope");
  std::unique_ptr<RedisConnection> connection;
  {
    const std::lock_guard lock(mutex_);
    // One Redis closed while it sat idle (a restart, a timeout) is dropped, not used.
    while (!connection && !idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
      if (!connection->stillOpen()) connection.reset();
    }
  }
  if (!connection) {
    auto fresh = connect();
    if (!fresh) return tl::unexpected(fresh.error());
    connection = std::move(*fresh);
  }
  auto reply = connection->command(std::vector<std::string_view>(args));
  if (!connection->broken()) {  // a broken one is dropped: the next command connects afresh
    const std::lock_guard lock(mutex_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(connection));
  }
  return reply;
}

void RedisRateLimiter::reset(std::string_view key) {
  if (key.size() > LocalRateLimiter::kMaxKeyBytes) return;
  if (auto ok = redis_.command({"DEL", "gatehouse:rate:" + std::string(key)}); !ok)
    spdlog::warn("rate limiter: a reset was not stored: {}", ok.error().message);
}

core::Result<Decision> RedisRateLimiter::hit(std::string_view key, std::uint32_t limit,
                                             std::chrono::seconds window, std::int64_t now) {
  // Bounded like the in-process limiter: every key expires with its window, and its size is
  // capped (callers pass digests of long input).
  if (key.size() > LocalRateLimiter::kMaxKeyBytes)
    return makeError(Errc::InvalidArgument, "rate-limit key too long");
  const std::string name = "gatehouse:rate:" + std::string(key);
  const std::string at = std::to_string(now);
  const std::string seconds = std::to_string(window.count());
  auto reply = redis_.command({"EVAL", kHitScript, "1", name, at, seconds});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->elements.size() != 2) return makeError(Errc::Internal, "Redis: unexpected reply");
  const std::int64_t n = toInt(reply->elements[0]);
  const std::int64_t left = toInt(reply->elements[1]);
  if (n <= static_cast<std::int64_t>(limit)) return Decision{};
  return Decision{false, std::max<std::int64_t>(1, left),
                  n == static_cast<std::int64_t>(limit) + 1};
}

core::Result<Gate> RedisLoginGuard::check(std::string_view account, std::int64_t now) {
  const std::string name = "gatehouse:guard:" + std::string(account);
  auto reply = redis_.command({"EVAL", kCheckScript, "1", name, std::to_string(now)});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->type != RedisReply::Type::Integer)
    return makeError(Errc::Internal, "Redis: unexpected reply");
  switch (toInt(*reply)) {
    case 2:
      return Gate::Locked;
    case 1:
      return Gate::Delayed;
    default:
      return Gate::Open;
  }
}

core::Result<RedisReply> RedisLoginGuard::evalWithPolicy(std::string_view script,
                                                         std::string_view account,
                                                         std::int64_t now) {
  const std::string name = "gatehouse:guard:" + std::string(account);
  const std::string args[] = {std::to_string(now), std::to_string(policy_.delay_after),
                              std::to_string(policy_.max_delay), std::to_string(policy_.lock_after),
                              std::to_string(policy_.cooldown)};
  return redis_.command({"EVAL", script, "1", name, args[0], args[1], args[2], args[3], args[4]});
}

core::Result<bool> RedisLoginGuard::failed(std::string_view account, std::int64_t now) {
  auto reply = evalWithPolicy(kFailedScript, account, now);
  if (!reply) return tl::unexpected(reply.error());
  return toInt(*reply) == 1;
}

core::Result<Attempt> RedisLoginGuard::attempt(std::string_view account, std::int64_t now) {
  auto reply = evalWithPolicy(attemptScript(), account, now);
  if (!reply) return tl::unexpected(reply.error());
  if (reply->type == RedisReply::Type::Array && reply->elements.size() == 2 &&
      reply->elements[0].type == RedisReply::Type::Integer &&
      reply->elements[1].type == RedisReply::Type::Integer) {
    const std::int64_t until = reply->elements[1].integer;
    switch (reply->elements[0].integer) {
      case 2:
        return Attempt{Gate::Locked, false, until};
      case 1:
        return Attempt{Gate::Delayed, false, until};
      default:
        return makeError(Errc::Internal, "Redis: unexpected reply");
    }
  }
  if (reply->type != RedisReply::Type::Integer)
    return makeError(Errc::Internal, "Redis: unexpected reply");
  switch (toInt(*reply)) {
    case 11:
      return Attempt{Gate::Open, true};
    default:
      return Attempt{Gate::Open, false};
  }
}

void RedisLoginGuard::succeeded(std::string_view account) {
  if (auto ok = redis_.command({"DEL", "gatehouse:guard:" + std::string(account)}); !ok)
    spdlog::warn("failed-login guard: could not reset an account's count: {}", ok.error().message);
}

namespace {
constexpr std::string_view kEpochKey = "gatehouse:once:epoch";
// KEYS[1]: the epoch; ARGV[1]: now (ms). Leaves `at`, the epoch, moved to now, and past the
// epoch before it and the highest value stored (`hi`), unless it names the Redis process
// answering. A Redis that refuses INFO to scripts (renamed away) names none: its epoch moves
// only when it is gone.
#define GATEHOUSE_EPOCH_LUA                                                           \
  "local info = redis.pcall('INFO', 'server')\n"                                      \
  "local run = type(info) == 'string' and string.match(info, 'run_id:(%w+)') or ''\n" \
  "local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '')\n"                    \
  "if not at or redis.call('HGET', KEYS[1], 'run') ~= run then\n"                     \
  "  local hi = tonumber(redis.call('HGET', KEYS[1], 'hi') or '')\n"                  \
  "  local now = tonumber(ARGV[1])\n"                                                 \
  "  if at and at + 1 > now then now = at + 1 end\n"                                  \
  "  if hi and hi + 1 > now then now = hi + 1 end\n"                                  \
  "  at = now\n"                                                                      \
  "  redis.call('HSET', KEYS[1], 'at', at, 'run', run)\n"                             \
  "end\n"
constexpr std::string_view kVouchScript = GATEHOUSE_EPOCH_LUA "return at\n";
// KEYS[2]: the spent key; ARGV[2]: issued_at, ARGV[3]: ttl. 1 when spent now, 0 otherwise.
constexpr std::string_view kSpendScript = GATEHOUSE_EPOCH_LUA
    "if tonumber(ARGV[2]) < at then return 0 end\n"
    "if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return 1 end\n"
    "return 0\n";
// KEYS[2]: the value's key; ARGV[2]: the value, ARGV[3]: ttl. Stored as "<ms>:<value>", the time
// after the epoch check and never before the epoch: a value stored in the moment between a Redis
// restart and the first script to move the epoch (a take, a spend, a node's resync) was refused
// by its own take (found by a review). The highest time stored is kept beside the epoch (`hi`),
// in the same snapshot as the values: a later epoch is past it, whatever the clock of the node
// that moves it (a second review: a node's clock behind the stamps let a restored value through).
// 1 when stored, 0 when the key was there.
constexpr std::string_view kPutScript = GATEHOUSE_EPOCH_LUA
    "local stamp = math.max(tonumber(ARGV[1]), at)\n"
    "if not redis.call('SET', KEYS[2], string.format('%d', stamp) .. ':' .. ARGV[2], 'NX', "
    "'EX', ARGV[3]) then return 0 end\n"
    "local hi = tonumber(redis.call('HGET', KEYS[1], 'hi') or '')\n"
    "if not hi or stamp > hi then redis.call('HSET', KEYS[1], 'hi', string.format('%d', stamp)) "
    "end\n"
    "return 1\n";
// KEYS[2]: a stored value ("<ms>:<value>"). The value, taken (GETDEL) or read (GET); nil when
// absent; 0 when it was stored before the epoch (restored by a restart from an older snapshot).
#define GATEHOUSE_STORED_LUA(read)                           \
  GATEHOUSE_EPOCH_LUA                                        \
  "local v = redis.call('" read                              \
  "', KEYS[2])\n"                                            \
  "if not v then return nil end\n"                           \
  "local put = tonumber(string.match(v, '^(%d+):') or '')\n" \
  "if not put or put < at then return 0 end\n"               \
  "return v\n"
constexpr std::string_view kTakeScript = GATEHOUSE_STORED_LUA("GETDEL");
constexpr std::string_view kPeekScript = GATEHOUSE_STORED_LUA("GET");
#undef GATEHOUSE_STORED_LUA
#undef GATEHOUSE_EPOCH_LUA

// A one-time value's key, and a TTL as Redis's EX takes it (at least a second).
std::string onceKey(std::string_view key) { return "gatehouse:once:" + std::string(key); }
std::string ttlSeconds(std::chrono::seconds ttl) {
  return std::to_string(std::max<std::int64_t>(1, ttl.count()));
}

// The value of `name` in an INFO reply ("name:value" lines); empty when absent.
std::string infoField(std::string_view info, std::string_view name) {
  const std::string prefix = std::string(name) + ":";
  std::size_t at = 0;
  while (at < info.size()) {
    std::size_t end = info.find('\n', at);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(at, end - at);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.starts_with(prefix)) return std::string(line.substr(prefix.size()));
    at = end + 1;
  }
  return {};
}
}  // namespace

core::Result<bool> RedisOneTimeStore::putIfAbsent(std::string_view key, std::string_view value,
                                                  std::chrono::seconds ttl,
                                                  std::chrono::milliseconds now) {
  auto reply = redis_.command({"EVAL", kPutScript, "2", kEpochKey, onceKey(key),
                               std::to_string(now.count()), value, ttlSeconds(ttl)});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->type != RedisReply::Type::Integer)
    return makeError(Errc::Internal, "Redis: unexpected reply");
  return reply->integer == 1;
}

core::Result<bool> RedisOneTimeStore::spend(std::string_view key, std::chrono::seconds ttl,
                                            std::chrono::milliseconds issued_at,
                                            std::chrono::milliseconds now) {
  auto reply = redis_.command({"EVAL", kSpendScript, "2", kEpochKey, onceKey(key),
                               std::to_string(now.count()), std::to_string(issued_at.count()),
                               ttlSeconds(ttl)});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->type != RedisReply::Type::Integer)
    return makeError(Errc::Internal, "Redis: unexpected reply");
  return reply->integer == 1;
}

core::Status RedisOneTimeStore::vouchFrom(std::chrono::milliseconds now) {
  auto memory = redis_.command({"INFO", "memory"});
  if (!memory && memory.error().code == Errc::Internal) {
    // Refused (an ACL without @dangerous, INFO renamed away): the scripts cannot name the Redis
    // process either, so a restart from a snapshot or a failover goes unseen (found by a review).
    spdlog::error(
        "Redis refuses INFO to this user ({}): a restart from an older snapshot or a failover "
        "cannot be told, and a challenge spent before it could be presented again; allow INFO "
        "(ACL +info; docs/deployment.md, Redis)",
        memory.error().message);
  }
  if (memory) {
    const std::string policy = infoField(memory->text, "maxmemory_policy");
    if (infoField(memory->text, "maxmemory") != "0" && !policy.empty() && policy != "noeviction") {
      spdlog::error(
          "Redis may evict keys (maxmemory-policy {}): spent challenges and attempt counts would "
          "go first; set maxmemory-policy noeviction (docs/deployment.md, Redis)",
          policy);
    }
  }
  auto reply = redis_.command({"EVAL", kVouchScript, "1", kEpochKey, std::to_string(now.count())});
  if (!reply) return tl::unexpected(reply.error());
  return {};
}

core::Result<std::optional<std::string>> RedisOneTimeStore::read(std::string_view script,
                                                                 std::string_view key,
                                                                 std::chrono::milliseconds now) {
  auto reply =
      redis_.command({"EVAL", script, "2", kEpochKey, onceKey(key), std::to_string(now.count())});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->type == RedisReply::Type::Integer) {
    spdlog::warn(
        "a one-time value stored before Redis's memory began (a restart from an older snapshot, a "
        "failover) was refused: it may have been used already");
    return std::optional<std::string>{};
  }
  if (reply->type != RedisReply::Type::String) return std::optional<std::string>{};
  const std::size_t colon = reply->text.find(':');
  if (colon == std::string::npos) return makeError(Errc::Internal, "Redis: unexpected reply");
  return std::optional<std::string>(reply->text.substr(colon + 1));
}

core::Result<std::optional<std::string>> RedisOneTimeStore::take(std::string_view key,
                                                                 std::chrono::milliseconds now) {
  return read(kTakeScript, key, now);
}

core::Result<std::optional<std::string>> RedisOneTimeStore::peek(std::string_view key,
                                                                 std::chrono::milliseconds now) {
  return read(kPeekScript, key, now);
}

RedisBus::~RedisBus() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

core::Status RedisBus::publish(std::string_view message) {
  auto reply = redis_.command({"PUBLISH", channel_, message});
  if (!reply) return tl::unexpected(reply.error());
  return {};
}

void RedisBus::start(Handler handler, Resync resync) {
  handler_ = std::move(handler);
  resync_ = std::move(resync);
  thread_ = std::thread([this] {
    core::nameThisThread("gh-redis");
    run();
  });
}

void RedisBus::run() {
  auto backoff = std::chrono::milliseconds(100);
  bool reported = false;
  while (!stop_) {
    auto connection = redis_.connect();
    std::string why;  // for the log: why the feed is not (or no longer) live
    if (!connection) {
      why = connection.error().message;
    } else if (auto confirmed = (*connection)->command({"SUBSCRIBE", channel_}); !confirmed) {
      why = "SUBSCRIBE failed: " + confirmed.error().message;
    } else if (!resync_()) {
      why = "re-reading what was published meanwhile failed";
    } else {
      if (reported) spdlog::info("Redis notifications restored: revocation checks resume");
      reported = false;
      backoff = std::chrono::milliseconds(100);
      live_.store(true, std::memory_order_release);
      firstAttemptEnded();
      why = listen(**connection);
    }
    if (stop_) break;
    if (live_.exchange(false) || !reported) {
      spdlog::error(
          "Redis notifications lost ({}): token checks answer 503 until they are restored", why);
      reported = true;
    }
    firstAttemptEnded();
    for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stop_;
         waited += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

void RedisBus::firstAttemptEnded() {
  {
    const std::lock_guard lock(attempt_mutex_);
    if (attempted_) return;
    attempted_ = true;
  }
  attempt_ended_.notify_all();
}

bool RedisBus::awaitFirstAttempt(std::chrono::milliseconds limit) {
  std::unique_lock lock(attempt_mutex_);
  attempt_ended_.wait_for(lock, limit, [this] { return attempted_; });
  return live();
}

std::string RedisBus::listen(RedisConnection& connection) {
  using Clock = std::chrono::steady_clock;
  auto last_heard = Clock::now();
  auto last_ping = Clock::now();
  while (!stop_) {
    // Everything already received first.
    for (;;) {
      auto reply = connection.buffered();
      if (!reply) return "a reply could not be read: " + reply.error().message;
      if (!*reply) break;
      const RedisReply& r = **reply;
      last_heard = Clock::now();
      if (r.type == RedisReply::Type::Array && r.elements.size() == 3 &&
          r.elements[0].text == "message") {
        handler_(r.elements[2].text);
      }
    }
    if (!connection.receive(std::chrono::milliseconds(200))) return "connection closed";
    const auto now = Clock::now();
    if (now - last_ping >= std::chrono::seconds(1)) {
      // In subscribed mode PING is answered as a message-shaped array: proof the link lives.
      if (!connection.send({"PING"})) return "PING could not be sent";
      last_ping = now;
    }
    if (now - last_heard > std::chrono::milliseconds(2500)) return "no answer to PING for 2.5 s";
  }
  return "stopping";
}

}  // namespace gatehouse::state
