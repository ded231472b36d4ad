#include "metrics/metrics.hpp"

#include <sstream>

namespace gatehouse::metrics {

std::size_t Registry::registerRoute(const std::string& method, const std::string& pattern) {
  routes_.emplace_back();
  routes_.back().method = method;
  routes_.back().pattern = pattern;
  return routes_.size() - 1;
}

Registry::Route& Registry::slot(std::size_t route) {
  return route < routes_.size() ? routes_[route] : unmatched_;
}

void Registry::observeRequest(std::size_t route, int status, double seconds) {
  Route& r = slot(route);
  std::size_t s = kStatuses.size() - 1;  // "other"
  for (std::size_t i = 0; i + 1 < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) {
      s = i;
      break;
    }
  }
  r.by_status[s].fetch_add(1, std::memory_order_relaxed);
  // One add per observation into the first bucket that holds it; render() sums them up.
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      r.buckets[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  r.count.fetch_add(1, std::memory_order_relaxed);
  r.sum_micros.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::string Registry::render() const {
  std::ostringstream out;
  std::vector<const Route*> all;
  for (const auto& r : routes_) all.push_back(&r);
  all.push_back(&unmatched_);
  out << "# HELP gatehouse_http_requests_total HTTP requests by method, route and status.\n"
      << "# TYPE gatehouse_http_requests_total counter\n";
  for (const Route* r : all) {
    for (std::size_t i = 0; i < kStatuses.size(); ++i) {
      const auto n = r->by_status[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out << "gatehouse_http_requests_total{method=\"" << r->method << "\",route=\"" << r->pattern
          << "\",status=\""
          << (kStatuses[i] == 0 ? std::string("other") : std::to_string(kStatuses[i])) << "\"} "
          << n << "\n";
    }
  }
  out << "# HELP gatehouse_http_request_duration_seconds Time to handle a request, by route.\n"
      << "# TYPE gatehouse_http_request_duration_seconds histogram\n";
  for (const Route* r : all) {
    const auto count = r->count.load(std::memory_order_relaxed);
    if (count == 0) continue;
    const std::string labels = "method=\"" + r->method + "\",route=\"" + r->pattern + "\"";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += r->buckets[i].load(std::memory_order_relaxed);
      out << "gatehouse_http_request_duration_seconds_bucket{" << labels << ",le=\"" << kBuckets[i]
          << "\"} " << cumulative << "\n";
    }
    out << "gatehouse_http_request_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << count
        << "\n"
        << "gatehouse_http_request_duration_seconds_sum{" << labels << "} "
        << static_cast<double>(r->sum_micros.load(std::memory_order_relaxed)) / 1e6 << "\n"
        << "gatehouse_http_request_duration_seconds_count{" << labels << "} " << count << "\n";
  }
  const auto counter = [&out](const char* name, const char* help, std::uint64_t v) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
        << name << " " << v << "\n";
  };
  out << "# HELP gatehouse_logins_total Password logins by result.\n# TYPE gatehouse_logins_total "
         "counter\n"
      << "gatehouse_logins_total{result=\"ok\"} " << logins_ok_.load() << "\n"
      << "gatehouse_logins_total{result=\"failed\"} " << logins_failed_.load() << "\n";
  counter("gatehouse_tokens_issued_total", "Access and refresh tokens issued.",
          tokens_issued_.load());
  counter("gatehouse_rate_limited_total", "Requests refused with 429.", rate_limited_.load());
  counter("gatehouse_refresh_reuse_detected_total", "Rotated refresh tokens presented again.",
          refresh_reuse_.load());
  counter("gatehouse_lockouts_total", "Accounts locked after repeated failed logins.",
          locked_out_.load());
  out << "# HELP gatehouse_mfa_events_total Second-factor enrolments, uses, failures, replays, "
         "removals, resets and codes locked.\n# TYPE gatehouse_mfa_events_total counter\n";
  static constexpr const char* kMfaEvents[] = {"enrolled", "confirmed", "verified", "failed",
                                               "replayed", "removed",   "reset",    "locked"};
  for (std::size_t i = 0; i < mfa_.size(); ++i) {
    out << "gatehouse_mfa_events_total{event=\"" << kMfaEvents[i] << "\"} " << mfa_[i].load()
        << "\n";
  }
  out << "# HELP gatehouse_mail_messages_total Outbox messages queued, sent, failed (each failed "
         "attempt) and abandoned.\n# TYPE gatehouse_mail_messages_total counter\n";
  static constexpr const char* kMailEvents[] = {"queued", "sent", "failed", "abandoned"};
  for (std::size_t i = 0; i < mail_.size(); ++i) {
    out << "gatehouse_mail_messages_total{event=\"" << kMailEvents[i] << "\"} " << mail_[i].load()
        << "\n";
  }
  out << "# HELP gatehouse_email_flows_total Password resets, email verifications and email "
         "changes requested, completed and rejected (a bad token).\n# TYPE "
         "gatehouse_email_flows_total counter\n";
  static constexpr const char* kFlows[] = {"password_reset", "email_verification", "email_change"};
  static constexpr const char* kOutcomes[] = {"requested", "completed", "rejected"};
  for (std::size_t f = 0; f < flows_.size(); ++f) {
    for (std::size_t o = 0; o < flows_[f].size(); ++o) {
      out << "gatehouse_email_flows_total{flow=\"" << kFlows[f] << "\",outcome=\"" << kOutcomes[o]
          << "\"} " << flows_[f][o].load() << "\n";
    }
  }
  out << "# HELP gatehouse_hash_queue_depth Password hashing jobs waiting.\n# TYPE "
         "gatehouse_hash_queue_depth gauge\n"
      << "gatehouse_hash_queue_depth " << (hash_queue_depth_ ? hash_queue_depth_() : 0) << "\n";
  if (rate_limit_keys_) {
    out << "# HELP gatehouse_rate_limit_keys Keys held by the in-process rate limiter.\n# TYPE "
           "gatehouse_rate_limit_keys gauge\n"
        << "gatehouse_rate_limit_keys " << rate_limit_keys_() << "\n";
  }
  if (audit_copy_dropped_ && audit_copy_failed_) {
    out << "# HELP gatehouse_audit_copy_lost_total Audit records left out of AUDIT_LOG_FILE (the "
           "database keeps them).\n# TYPE gatehouse_audit_copy_lost_total counter\n"
        << "gatehouse_audit_copy_lost_total{reason=\"reader_lagging\"} " << audit_copy_dropped_()
        << "\ngatehouse_audit_copy_lost_total{reason=\"write_failed\"} " << audit_copy_failed_()
        << "\n";
  }
  return out.str();
}

}  // namespace gatehouse::metrics
