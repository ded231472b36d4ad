#include "metrics/metrics.hpp"

#include <sstream>

namespace gatehouse::metrics {

void Registry::observeRequest(const std::string& method, const std::string& route, int status,
                              double seconds) {
  const std::lock_guard lock(mutex_);
  ++requests_[{method, route, status}];
  Histogram& h = latency_[route];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string Registry::render() const {
  std::ostringstream out;
  out << "# HELP gatehouse_http_requests_total HTTP requests by method, route and status.\n"
      << "# TYPE gatehouse_http_requests_total counter\n";
  {
    const std::lock_guard lock(mutex_);
    for (const auto& [key, n] : requests_) {
      const auto& [method, route, status] = key;
      out << "gatehouse_http_requests_total{method=\"" << method << "\",route=\"" << route
          << "\",status=\"" << status << "\"} " << n << "\n";
    }
    out << "# HELP gatehouse_http_request_duration_seconds Time to handle a request, by route.\n"
        << "# TYPE gatehouse_http_request_duration_seconds histogram\n";
    for (const auto& [route, h] : latency_) {
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        out << "gatehouse_http_request_duration_seconds_bucket{route=\"" << route << "\",le=\""
            << kBuckets[i] << "\"} " << h.buckets[i] << "\n";
      }
      out << "gatehouse_http_request_duration_seconds_bucket{route=\"" << route
          << "\",le=\"+Inf\"} " << h.count << "\n"
          << "gatehouse_http_request_duration_seconds_sum{route=\"" << route << "\"} " << h.sum
          << "\n"
          << "gatehouse_http_request_duration_seconds_count{route=\"" << route << "\"} " << h.count
          << "\n";
    }
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
  out << "# HELP gatehouse_hash_queue_depth Password hashing jobs waiting.\n# TYPE "
         "gatehouse_hash_queue_depth gauge\n"
      << "gatehouse_hash_queue_depth " << (hash_queue_depth_ ? hash_queue_depth_() : 0) << "\n";
  return out.str();
}

}  // namespace gatehouse::metrics
