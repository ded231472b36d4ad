#include "audit/audit_log.hpp"

#include <cstdio>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/base64url.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "crypto/digest.hpp"

namespace gatehouse::audit {

namespace json = boost::json;

std::string sealRecord(const store::AuditRecord& r) {
  json::array canonical{r.id,
                        r.time_ms,
                        r.type,
                        r.request_id,
                        r.actor_id ? json::value(*r.actor_id) : json::value(nullptr),
                        r.subject_id ? json::value(*r.subject_id) : json::value(nullptr),
                        r.client_ip,
                        r.user_agent,
                        r.detail,
                        r.prev_hash};
  return core::hexEncode(crypto::sha256(json::serialize(canonical)));
}

json::object toJson(const store::AuditRecord& r) {
  json::object o;
  o["id"] = r.id;
  o["time"] = r.time_ms / 1000;
  o["time_ms"] = r.time_ms;
  o["type"] = r.type;
  o["request_id"] = r.request_id;
  o["actor_id"] = r.actor_id ? json::value(*r.actor_id) : json::value(nullptr);
  o["subject_id"] = r.subject_id ? json::value(*r.subject_id) : json::value(nullptr);
  o["client_ip"] = r.client_ip;
  o["user_agent"] = r.user_agent;
  json::error_code ec;
  auto detail = json::parse(r.detail, ec);
  o["detail"] = ec ? json::value(json::object{}) : detail;
  o["hash"] = r.hash;
  return o;
}

AuditLog::AuditLog(store::AuditStore& store, const core::Clock& clock, const std::string& sink_path)
    : store_(store), clock_(clock) {
  if (sink_path == "-") {
    sink_ = stdout;
  } else if (!sink_path.empty()) {
    // The events name users and addresses: a file of ours, owner-only, never through a link; or a
    // stream (/dev/stdout, a FIFO a log shipper reads), one nobody reads refused, not waited on.
    auto fd = core::openForAppend(sink_path, core::AppendTo::FileOrStream);
    if (fd) sink_ = ::fdopen(fd->get(), "a");
    if (sink_ != nullptr) (void)fd->release();
    owns_sink_ = sink_ != nullptr;
    if (sink_ == nullptr) {
      sink_error_ = fd ? "cannot open " + sink_path : fd.error().message;
      spdlog::error("cannot open the audit log file: {}", sink_error_);
    }
  }
}

AuditLog::~AuditLog() {
  if (owns_sink_) std::fclose(sink_);
}

void AuditLog::record(Event e) {
  store::AuditRecord r;
  r.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch())
                  .count();
  r.type = std::move(e.type);
  r.request_id = std::move(e.request_id);
  r.actor_id = e.actor_id;
  r.subject_id = e.subject_id;
  r.client_ip = std::move(e.client_ip);
  r.user_agent = e.user_agent.substr(0, 512);
  r.detail = json::serialize(e.detail);
  auto stored = store_.append(std::move(r), sealRecord);
  if (!stored) {
    spdlog::error("audit write failed: {}", stored.error().message);
    return;
  }
  if (sink_ != nullptr) {
    const std::string line = json::serialize(toJson(*stored)) + "\n";
    const std::lock_guard lock(sink_mutex_);
    std::fwrite(line.data(), 1, line.size(), sink_);
    std::fflush(sink_);
  }
}

core::Result<VerifyReport> verifyChain(store::AuditStore& store) {
  VerifyReport report;
  std::string expected_prev = std::string(64, '0');
  std::int64_t expected_id = 1;
  auto ok = store.scan([&](const store::AuditRecord& r) {
    ++report.checked;
    if (r.id != expected_id) {
      report.first_bad_id = r.id;
      report.problem = "record " + std::to_string(expected_id) + " is missing";
      return false;
    }
    if (r.prev_hash != expected_prev) {
      report.first_bad_id = r.id;
      report.problem = "record " + std::to_string(r.id) + " does not link to the record before it";
      return false;
    }
    if (sealRecord(r) != r.hash) {
      report.first_bad_id = r.id;
      report.problem = "record " + std::to_string(r.id) + " was altered";
      return false;
    }
    expected_prev = r.hash;
    ++expected_id;
    return true;
  });
  if (!ok) return tl::unexpected(ok.error());
  return report;
}

}  // namespace gatehouse::audit
