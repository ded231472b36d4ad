#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "audit/line_sink.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "crypto/hmac.hpp"
#include "store/store.hpp"

namespace gatehouse::audit {

// The most of a User-Agent kept (core::storableText) on an audit record, and on a session.
inline constexpr std::size_t kMaxUserAgentBytes = 512;

// One security event. Never put a password, token or key in `detail`.
struct Event {
  std::string type;  // "login.failed", "refresh.reuse_detected", ...
  std::string request_id;
  std::optional<std::int64_t> actor_id;    // who acted (the authenticated caller)
  std::optional<std::int64_t> subject_id;  // whom it concerns
  std::string client_ip;
  std::string user_agent;
  boost::json::object detail;
};

// Appends events to the database's hash chain and, optionally, as JSON lines to a file or
// stdout (a LineSink: a request never waits on its reader). Thread-safe. A failed write is logged,
// never thrown: auditing must not take the service down, and the gap shows in `gatehouse audit
// verify` only as missing events.
class AuditLog {
 public:
  // `sink_path`: empty for none, "-" for the descriptor `dash` (standard output; a command's
  // standard error), else a file opened for append (core::openForAppend, streams allowed). One
  // that cannot be opened is logged, and sinkError says why: events are still stored.
  // `chain_key` (keyring::PurposeKeys::audit_chain) keys each record's hash; none only for a
  // command run before the server's first start made the master secret, when no record is keyed
  // yet.
  AuditLog(store::AuditStore& store, const core::Clock& clock, const std::string& sink_path,
           std::optional<crypto::HmacKey> chain_key, int dash = 1);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();

  void record(Event event);
  // The newest record's id when it carries no key; nullopt otherwise, and on a failed read
  // (logged). The start that makes the master secret names it: the commands run before it wrote
  // those records without a key.
  std::optional<std::int64_t> unkeyedEnd();
  // Why the file sink named is not open; empty when it is, or none was named.
  const std::string& sinkError() const { return sink_error_; }
  // The file sink (LineSink): opened again (SIGHUP, after a log rotation); records left out of
  // it, dropped while its reader lagged or failed to write.
  void reopenSink();
  [[nodiscard]] std::uint64_t sinkDropped() const;
  [[nodiscard]] std::uint64_t sinkFailed() const;
  // The file sink written out and closed (a command, before it exits): how many records it left
  // out; 0 without one.
  std::uint64_t closeSink();

 private:
  store::AuditStore& store_;
  const core::Clock& clock_;
  std::optional<crypto::HmacKey> chain_key_;
  std::unique_ptr<LineSink> sink_;
  std::string sink_error_;
};

// SHA-256 (hex) of a record's canonical form: every field but `hash` and `mac`, prev_hash
// included.
// One serialized JSON line with every code point that hides or reorders text
// (core::hidesOrReorders: the C1 controls, NEL, the line and paragraph separators, the
// bidirectional overrides...) written as a \u escape: the same JSON, but a reader splitting the
// JSON-lines copy at U+2028 or NEL, or a terminal showing it, sees no line break or reversed text
// a user agent put there (an outside attack: 1,117 lines for 1,115 records).
std::string escapeHidden(std::string_view line);

std::string sealRecord(const store::AuditRecord& record);
// HMAC-SHA256 (hex) of a record's `hash` under the chain key: it covers the record and, through
// prev_hash, every record before it.
[[nodiscard]] core::Result<std::string> keyRecord(const crypto::HmacKey& key,
                                                  const store::AuditRecord& record);

struct VerifyOptions {
  // The chain key; without one (no master secret yet), a keyed record breaks the walk.
  const crypto::HmacKey* key = nullptr;
  // Records below this id may carry no key: those written before this version keyed records (or
  // by older nodes during the upgrade), or by commands before the server's first start. The
  // operator gives it (a number kept from then): nothing in the database, which a writer could
  // change, decides it.
  std::int64_t unkeyed_before = 0;
};

struct VerifyReport {
  std::int64_t checked = 0;
  std::int64_t keyed = 0;                    // records whose key matched
  std::optional<std::int64_t> first_bad_id;  // set when the chain is broken
  std::string problem;
  std::vector<std::int64_t> unkeyed;  // from unkeyed_before on, the first few (the walk goes on)
  std::int64_t unkeyed_count = 0;
  // Records excused by unkeyed_before that no keyed record follows: no key covers them yet.
  std::int64_t uncovered = 0;
};

// Walks the whole chain: each record's hash must match its content and link to the one before,
// with ids contiguous from 1; a keyed record's key must match; and with a key, every record from
// `unkeyed_before` on must carry one (those that do not are listed, and the walk goes on). A
// record below `unkeyed_before` is checked by its hash, which the next keyed record's key covers;
// excused records after the last keyed one break the chain (nothing covers them: the end
// rewritten with its keys stripped looks so), unless no record is keyed yet.
[[nodiscard]] core::Result<VerifyReport> verifyChain(store::AuditStore& store,
                                                     const VerifyOptions& options = {});

boost::json::object toJson(const store::AuditRecord& record);

}  // namespace gatehouse::audit
