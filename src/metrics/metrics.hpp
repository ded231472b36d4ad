#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace gatehouse::metrics {

// Process-wide counters rendered in the Prometheus text format (version 0.0.4). Routes are
// registered once at startup; after that every update is a relaxed atomic add, so the request
// path takes no lock. Thread-safe.
class Registry {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  static constexpr std::size_t kUnmatched = static_cast<std::size_t>(-1);

  // Before serving: one id per (method, route pattern), in the router's order.
  std::size_t registerRoute(const std::string& method, const std::string& pattern);
  // `route` from registerRoute, or kUnmatched for requests no route took (404/405).
  void observeRequest(std::size_t route, int status, double seconds);

  void loginSucceeded() { logins_ok_.fetch_add(1, std::memory_order_relaxed); }
  void loginFailed() { logins_failed_.fetch_add(1, std::memory_order_relaxed); }
  void tokensIssued(std::uint64_t n = 1) { tokens_issued_.fetch_add(n, std::memory_order_relaxed); }
  void rateLimited() { rate_limited_.fetch_add(1, std::memory_order_relaxed); }
  void refreshReuse() { refresh_reuse_.fetch_add(1, std::memory_order_relaxed); }
  void lockedOut() { locked_out_.fetch_add(1, std::memory_order_relaxed); }
  // Second-factor events: gatehouse_mfa_events_total{event="..."}.
  enum class Mfa { Enrolled, Confirmed, Verified, Failed, Replayed, Removed, Reset, Locked, Count };
  void mfa(Mfa event) {
    mfa_[static_cast<std::size_t>(event)].fetch_add(1, std::memory_order_relaxed);
  }
  // Outbox messages: gatehouse_mail_messages_total{event="..."}.
  enum class Mail { Queued, Sent, Failed, Abandoned, Count };
  void mail(Mail event) {
    mail_[static_cast<std::size_t>(event)].fetch_add(1, std::memory_order_relaxed);
  }
  // Email flows: gatehouse_email_flows_total{flow="...",outcome="..."}.
  enum class Flow { PasswordReset, EmailVerification, EmailChange, Count };
  enum class Outcome { Requested, Completed, Rejected, Count };
  void emailFlow(Flow flow, Outcome outcome) {
    flows_[static_cast<std::size_t>(flow)][static_cast<std::size_t>(outcome)].fetch_add(
        1, std::memory_order_relaxed);
  }
  // Sampled when rendering.
  // Keys the in-process rate limiter holds (not set with Redis, whose keys expire there).
  void setRateLimitKeys(std::function<std::size_t()> keys) { rate_limit_keys_ = std::move(keys); }
  void setHashQueueDepth(std::function<std::size_t()> depth) {
    hash_queue_depth_ = std::move(depth);
  }

  // Audit records the AUDIT_LOG_FILE copy left out: dropped while its reader lagged, failed to
  // write (gatehouse_audit_copy_lost_total{reason}); not set without one.
  void setAuditCopyLost(std::function<std::uint64_t()> dropped,
                        std::function<std::uint64_t()> failed) {
    audit_copy_dropped_ = std::move(dropped);
    audit_copy_failed_ = std::move(failed);
  }

  std::string render() const;

 private:
  static constexpr std::array<int, 17> kStatuses = {200, 201, 204, 302, 400, 401, 403, 404, 405,
                                                    409, 413, 422, 429, 431, 500, 503, 0};
  struct Route {
    std::string method;
    std::string pattern;
    std::array<std::atomic<std::uint64_t>, kStatuses.size()> by_status{};
    std::array<std::atomic<std::uint64_t>, kBuckets.size()> buckets{};
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::uint64_t> sum_micros{0};
  };
  Route& slot(std::size_t route);

  std::deque<Route> routes_;  // stable addresses; index kUnmatched maps to unmatched_
  Route unmatched_{"*", "unmatched"};
  std::atomic<std::uint64_t> logins_ok_{0};
  std::atomic<std::uint64_t> logins_failed_{0};
  std::atomic<std::uint64_t> tokens_issued_{0};
  std::atomic<std::uint64_t> rate_limited_{0};
  std::atomic<std::uint64_t> refresh_reuse_{0};
  std::atomic<std::uint64_t> locked_out_{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Mfa::Count)> mfa_{};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Mail::Count)> mail_{};
  std::array<std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Outcome::Count)>,
             static_cast<std::size_t>(Flow::Count)>
      flows_{};
  std::function<std::size_t()> hash_queue_depth_;
  std::function<std::size_t()> rate_limit_keys_;
  std::function<std::uint64_t()> audit_copy_dropped_;
  std::function<std::uint64_t()> audit_copy_failed_;
};

}  // namespace gatehouse::metrics
