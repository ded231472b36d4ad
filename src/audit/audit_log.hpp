#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

namespace gatehouse::audit {

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
// stdout. Thread-safe. A failed write is logged, never thrown: auditing must not take the
// service down, and the gap shows in `gatehouse audit verify` only as missing events.
class AuditLog {
 public:
  // `sink_path`: empty for none, "-" for stdout, else a file opened for append
  // (core::openForAppend, streams allowed). One that cannot be opened is logged, and sinkError
  // says why: events are still stored.
  AuditLog(store::AuditStore& store, const core::Clock& clock, const std::string& sink_path);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();

  void record(Event event);
  // Why the file sink named is not open; empty when it is, or none was named.
  const std::string& sinkError() const { return sink_error_; }

 private:
  store::AuditStore& store_;
  const core::Clock& clock_;
  std::mutex sink_mutex_;
  std::FILE* sink_ = nullptr;
  bool owns_sink_ = false;
  std::string sink_error_;
};

// SHA-256 (hex) of a record's canonical form: every field but `hash`, prev_hash included.
std::string sealRecord(const store::AuditRecord& record);

struct VerifyReport {
  std::int64_t checked = 0;
  std::optional<std::int64_t> first_bad_id;  // set when the chain is broken
  std::string problem;
};

// Walks the whole chain: each record's hash must match its content and link to the one before,
// with ids contiguous from 1.
[[nodiscard]] core::Result<VerifyReport> verifyChain(store::AuditStore& store);

boost::json::object toJson(const store::AuditRecord& record);

}  // namespace gatehouse::audit
