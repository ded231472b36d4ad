#include "audit/audit_log.hpp"

#include <algorithm>
#include <cstddef>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/base64url.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"
#include "crypto/digest.hpp"

namespace gatehouse::audit {

namespace json = boost::json;

std::string escapeHidden(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  const auto escape = [&out](std::uint32_t unit) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 0xFU];
  };
  for (std::size_t i = 0; i < line.size();) {
    const std::size_t at = i;
    const auto cp = core::nextCodePoint(line, i);
    // What is not strict UTF-8 is copied byte for byte (the records are UTF-8: a guard only).
    if (!cp) {
      out += line[i++];
    } else if (!core::hidesOrReorders(*cp)) {
      out.append(line.substr(at, i - at));
    } else if (*cp < 0x10000) {
      escape(*cp);
    } else {  // a surrogate pair, as JSON writes a code point past the BMP
      escape(0xD800 + ((*cp - 0x10000) >> 10U));
      escape(0xDC00 + ((*cp - 0x10000) & 0x3FFU));
    }
  }
  return out;
}

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

core::Result<std::string> keyRecord(const crypto::HmacKey& key, const store::AuditRecord& r) {
  auto tag = key.sign(r.hash);
  if (!tag) return tl::unexpected(tag.error());
  return core::hexEncode(*tag);
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

AuditLog::AuditLog(store::AuditStore& store, const core::Clock& clock, const std::string& sink_path,
                   std::optional<crypto::HmacKey> chain_key, int dash)
    : store_(store), clock_(clock), chain_key_(std::move(chain_key)) {
  if (sink_path.empty()) return;
  auto sink = LineSink::open(sink_path, LineSink::kDefaultBudget, dash);
  if (!sink) {
    sink_error_ = sink.error().message;
    spdlog::error("cannot open the audit log file: {}", sink_error_);
    return;
  }
  sink_ = std::move(*sink);
}

AuditLog::~AuditLog() = default;

void AuditLog::reopenSink() {
  if (sink_) sink_->reopen();
}

std::uint64_t AuditLog::sinkDropped() const { return sink_ ? sink_->dropped() : 0; }
std::uint64_t AuditLog::sinkFailed() const { return sink_ ? sink_->failed() : 0; }

std::uint64_t AuditLog::closeSink() {
  if (!sink_) return 0;
  sink_->close();
  return sink_->dropped() + sink_->failed();
}

std::optional<std::int64_t> AuditLog::unkeyedEnd() {
  auto newest = store_.query({.limit = 1});
  if (!newest) {
    spdlog::error("audit read failed: {}", newest.error().message);
    return std::nullopt;
  }
  if (newest->empty() || !newest->front().mac.empty()) return std::nullopt;
  return newest->front().id;
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
  r.user_agent = core::storableText(e.user_agent, kMaxUserAgentBytes);
  r.detail = json::serialize(e.detail);
  // Named if it cannot be written (the record goes into append).
  const std::string request_id = r.request_id;
  const std::string type = r.type;
  auto stored = store_.append(std::move(r), [this](store::AuditRecord& record) -> core::Status {
    record.hash = sealRecord(record);
    if (!chain_key_) return {};
    // Only an OpenSSL fault fails this; then nothing is written (an unkeyed record after keyed
    // ones reads as forged).
    auto mac = keyRecord(*chain_key_, record);
    if (!mac) return tl::unexpected(mac.error());
    record.mac = std::move(*mac);
    return {};
  });
  if (!stored) {
    spdlog::error("request_id={} audit write failed: {} record: {}", request_id, type,
                  stored.error().message);
    return;
  }
  if (sink_) sink_->push(escapeHidden(json::serialize(toJson(*stored))) + "\n");
}

core::Result<VerifyReport> verifyChain(store::AuditStore& store, const VerifyOptions& options) {
  constexpr std::size_t kListed = 20;
  VerifyReport report;
  std::string expected_prev = std::string(64, '0');
  std::int64_t expected_id = 1;
  std::int64_t first_uncovered = 0;
  const auto broken = [&report](std::int64_t id, std::string problem) {
    report.first_bad_id = id;
    report.problem = std::move(problem);
    return false;
  };
  auto ok = store.scan([&](const store::AuditRecord& r) {
    ++report.checked;
    const std::string id = std::to_string(r.id);
    if (r.id != expected_id)
      return broken(r.id, "record " + std::to_string(expected_id) + " is missing");
    if (r.prev_hash != expected_prev)
      return broken(r.id, "record " + id + " does not link to the record before it");
    if (sealRecord(r) != r.hash) return broken(r.id, "record " + id + " was altered");
    if (!r.mac.empty()) {
      if (options.key == nullptr) {
        return broken(r.id, "record " + id +
                                " is keyed, and there is no key to check it with (no master "
                                "secret in this database)");
      }
      auto expected = keyRecord(*options.key, r);
      if (!expected) return broken(r.id, expected.error().message);
      if (!crypto::constantTimeEquals(*expected, r.mac)) {
        return broken(r.id, "record " + id +
                                "'s key does not match: it, or a record before it, was rewritten "
                                "and its hashes computed again (or it was keyed under another "
                                "master secret)");
      }
      ++report.keyed;
      report.uncovered = 0;
    } else if (options.key != nullptr && r.id >= options.unkeyed_before) {
      if (report.unkeyed.size() < kListed) report.unkeyed.push_back(r.id);
      ++report.unkeyed_count;
    } else if (options.key != nullptr) {
      if (report.uncovered++ == 0) first_uncovered = r.id;
    }
    expected_prev = r.hash;
    ++expected_id;
    return true;
  });
  if (!ok) return tl::unexpected(ok.error());
  if (!report.first_bad_id && report.unkeyed_count > 0) {
    report.first_bad_id = report.unkeyed.front();
    report.problem =
        std::to_string(report.unkeyed_count) + " record(s) carry no key, the first " +
        std::to_string(report.unkeyed.front()) +
        ": their keys were stripped and the history rewritten, or they were written before this "
        "version keyed records (or by an older node during the upgrade), or by commands before "
        "the server's first start. Only a number you kept from then excuses them: "
        "--unkeyed-before";
  }
  // The operator's number was kept from a time the log reached it: a log that ends below it lost
  // rows from its end (or the number is wrong), and would excuse whatever was written there
  // next (a review: every key stripped, the chain rewritten, a number beyond the end).
  if (!report.first_bad_id && options.key != nullptr && options.unkeyed_before > expected_id) {
    report.first_bad_id = expected_id - 1;
    report.problem =
        (expected_id == 1 ? std::string("the log is empty")
                          : "the log ends at record " + std::to_string(expected_id - 1)) +
        ", below --unkeyed-before " + std::to_string(options.unkeyed_before) +
        ": records were cut from its end, or the number is not the one the first "
        "start named";
  }
  // The operator's number excuses a record's missing key because the next keyed record's key
  // covers its hash; at the end nothing does (an outside attack rewrote the last record, dropped
  // its key and passed a number beyond it). Before the first keyed record there is nothing else.
  if (!report.first_bad_id && report.uncovered > 0 && report.keyed > 0) {
    report.first_bad_id = first_uncovered;
    report.problem =
        std::to_string(report.uncovered) + " record(s) from " + std::to_string(first_uncovered) +
        " on carry no key and no keyed record follows them, so --unkeyed-before does not excuse "
        "them: the end of the log was rewritten with its keys stripped, or an older node wrote "
        "them during an upgrade (then verify again once this version has written a record)";
  }
  return report;
}

}  // namespace gatehouse::audit
