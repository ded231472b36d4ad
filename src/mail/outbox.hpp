#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "mail/templates.hpp"
#include "mail/transport.hpp"
#include "metrics/metrics.hpp"
#include "store/store.hpp"

namespace gatehouse::mail {

struct OutboxSettings {
  std::string from;         // SMTP_FROM
  std::string sealing_key;  // 32 bytes: AES-256-GCM over bodies at rest
  std::int64_t retry_base_seconds = 30;
  std::int64_t max_retry_seconds = 3600;
  std::int64_t max_attempts = 12;
  std::int64_t poll_seconds = 2;
  std::int64_t lease_seconds = 120;  // longer than one SMTP attempt may take (30 s)
  // This sender's lasting name (kept in the data directory): claims it held when it died are
  // released when it starts again, instead of waiting out their lease.
  std::string node = "node";
  std::int64_t keep_finished_seconds = 7 * 86400;
};

// The mail outbox: messages are composed and sealed here, written by the caller's store
// transaction together with the event that causes them, and delivered by one background
// sender per node. Each message is claimed by exactly one sender across nodes; a failed
// attempt is retried with exponential backoff up to max_attempts, then abandoned. A crash
// between the SMTP server's acceptance and the sent mark can deliver a message twice (after
// the claim's lease); nothing is ever lost. Thread-safe.
class Outbox {
 public:
  struct Deps {
    store::MailStore& store;
    Transport* transport;  // nullptr: mail is not configured
    audit::AuditLog& audit;
    metrics::Registry& metrics;
    const core::Clock& clock;
    OutboxSettings settings;
  };
  explicit Outbox(Deps deps) : d_(std::move(deps)) {}
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;
  ~Outbox() { stop(); }

  bool configured() const { return d_.transport != nullptr; }
  // A message for `to`, composed (From = SMTP_FROM) and sealed, ready for the store.
  [[nodiscard]] core::Result<store::OutboxMessage> prepare(
      const std::string& kind, const std::string& to, const Rendered& content,
      std::optional<std::int64_t> user_id) const;
  // After the caller's transaction committed: counted and handed to the sender at once.
  void committed(std::size_t messages);

  // The background sender: start once (after releasing this node's claims from an earlier
  // life), stop before the store goes.
  void start();
  void stop();
  // One pass over the due messages (claim, send, mark) until none is due; how many were sent.
  std::size_t drain();

 private:
  enum class Attempt { None, Sent, Failed };
  Attempt sendOne();
  void run();

  Deps d_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool poke_ = false;
  std::thread thread_;
  std::int64_t last_purge_ = 0;
};

}  // namespace gatehouse::mail
