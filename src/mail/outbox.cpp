#include "mail/outbox.hpp"

#include <algorithm>

#include "core/base64url.hpp"
#include "core/log.hpp"
#include "core/this_thread.hpp"
#include "crypto/aead.hpp"
#include "mail/mime.hpp"

namespace gatehouse::mail {
namespace {

constexpr std::string_view kAad = "gatehouse outbox message v1";

}  // namespace

core::Result<store::OutboxMessage> Outbox::prepare(const std::string& kind, const std::string& to,
                                                   const Rendered& content,
                                                   std::optional<std::int64_t> user_id) const {
  const std::int64_t now = d_.clock.unixSeconds();
  auto message = compose({d_.settings.from, to, content.subject, content.text, content.html}, now);
  if (!message) return tl::unexpected(message.error());
  // The body holds a token's link until it is sent: sealed at rest, like second-factor secrets.
  auto sealed = crypto::seal(d_.settings.sealing_key, *message, kAad);
  if (!sealed) return tl::unexpected(sealed.error());
  // Text columns on every backend: the sealed bytes travel as base64.
  store::OutboxMessage m;
  m.kind = kind;
  m.sender = addressOf(d_.settings.from).value_or("");
  m.recipient = to;
  m.user_id = user_id;
  m.body = core::base64Encode(*sealed);
  m.created_at = now;
  return m;
}

void Outbox::committed(std::size_t messages) {
  for (std::size_t i = 0; i < messages; ++i) d_.metrics.mail(metrics::Registry::Mail::Queued);
  {
    std::lock_guard lock(mutex_);
    poke_ = true;
  }
  wake_.notify_one();
}

void Outbox::start() {
  if (!configured() || thread_.joinable()) return;
  if (auto released = d_.store.release(d_.settings.node); !released) {
    spdlog::warn("mail: releasing this node's earlier claims failed: {}", released.error().message);
  } else if (*released > 0) {
    spdlog::info("mail: {} message(s) this node was sending when it stopped go out again",
                 *released);
  }
  thread_ = std::thread([this] {
    core::nameThisThread("gh-outbox");
    run();
  });
}

void Outbox::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t Outbox::drain() {
  std::size_t sent = 0;
  if (!configured()) return sent;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    const Attempt a = sendOne();
    if (a == Attempt::None) break;
    if (a == Attempt::Sent) ++sent;
  }
  return sent;
}

void Outbox::run() {
  spdlog::info("mail: sending through {}", d_.transport->describe());
  for (;;) {
    drain();
    const std::int64_t now = d_.clock.unixSeconds();
    if (now - last_purge_ >= 3600) {
      last_purge_ = now;
      if (auto ok = d_.store.purge(now, now - d_.settings.keep_finished_seconds); !ok)
        spdlog::warn("mail: purging old tokens and messages failed: {}", ok.error().message);
    }
    std::unique_lock lock(mutex_);
    // Other nodes' messages and due retries are found by polling; this node's own at once.
    wake_.wait_for(lock, std::chrono::seconds(d_.settings.poll_seconds),
                   [this] { return stopping_ || poke_; });
    if (stopping_) return;
    poke_ = false;
  }
}

Outbox::Attempt Outbox::sendOne() {
  const std::int64_t now = d_.clock.unixSeconds();
  auto claimed = d_.store.claim(now, d_.settings.lease_seconds, d_.settings.node);
  if (!claimed) {
    spdlog::warn("mail: reading the outbox failed: {}", claimed.error().message);
    return Attempt::None;
  }
  if (!*claimed) return Attempt::None;
  const store::OutboxMessage& m = **claimed;
  boost::json::object detail{{"message_id", m.id}, {"kind", m.kind}, {"attempt", m.attempts}};
  const auto give_up = [&](const std::string& why) {
    if (auto ok = d_.store.abandon(m.id, d_.clock.unixSeconds(), why); !ok)
      spdlog::warn("mail: abandoning message {} failed: {}", m.id, ok.error().message);
    d_.metrics.mail(metrics::Registry::Mail::Abandoned);
    detail["error"] = why;
    d_.audit.record({"mail.abandoned", "", std::nullopt, m.user_id, "", "", std::move(detail)});
    spdlog::error("mail: message {} ({}) abandoned after attempt {}: {}", m.id, m.kind, m.attempts,
                  why);
    return Attempt::Failed;
  };
  // A link that expired while SMTP was down helps nobody: a late mail would only confuse.
  if (m.expires_at > 0 && m.expires_at <= now)
    return give_up("its link expired before it was sent");
  const auto sealed = core::base64Decode(m.body);
  const auto opened =
      sealed ? crypto::open(d_.settings.sealing_key, *sealed, kAad) : std::optional<std::string>();
  if (!opened) {
    // Sealed by a node with another key (every node needs the same MFA_SECRET_KEY): left for a
    // node that can open it, soon, and never given up here.
    if (auto ok =
            d_.store.retryLater(m.id, now + d_.settings.poll_seconds, "sealed under another key");
        !ok) {
      spdlog::warn("mail: rescheduling message {} failed: {}", m.id, ok.error().message);
    }
    d_.metrics.mail(metrics::Registry::Mail::Failed);
    spdlog::error(
        "mail: message {} ({}) does not open with this node's key: every node needs the "
        "same MFA_SECRET_KEY",
        m.id, m.kind);
    return Attempt::Failed;
  }
  core::Status sent = d_.transport->send(m.sender, m.recipient, *opened);
  const std::int64_t done = d_.clock.unixSeconds();
  if (sent) {
    auto marked = d_.store.markSent(m.id, done);
    if (!marked)
      spdlog::warn("mail: message {} sent but not marked: {}", m.id, marked.error().message);
    d_.metrics.mail(metrics::Registry::Mail::Sent);
    d_.audit.record({"mail.sent", "", std::nullopt, m.user_id, "", "", std::move(detail)});
    spdlog::info("mail: message {} ({}) sent, attempt {}", m.id, m.kind, m.attempts);
    return Attempt::Sent;
  }
  d_.metrics.mail(metrics::Registry::Mail::Failed);
  const bool permanent = sent.error().code == core::Errc::InvalidArgument;
  if (permanent || m.attempts >= d_.settings.max_attempts) return give_up(sent.error().message);
  detail["error"] = sent.error().message;
  // Exponential backoff: base, 2 × base, 4 × base, ... at most max_retry_seconds.
  std::int64_t delay = d_.settings.retry_base_seconds;
  for (std::int64_t i = 1; i < m.attempts && delay < d_.settings.max_retry_seconds; ++i) delay *= 2;
  delay = std::min(delay, d_.settings.max_retry_seconds);
  detail["retry_in_seconds"] = delay;
  if (auto ok = d_.store.retryLater(m.id, done + delay, sent.error().message); !ok)
    spdlog::warn("mail: rescheduling message {} failed: {}", m.id, ok.error().message);
  d_.audit.record({"mail.failed", "", std::nullopt, m.user_id, "", "", std::move(detail)});
  spdlog::warn("mail: message {} ({}) attempt {} failed, next in {} s: {}", m.id, m.kind,
               m.attempts, delay, sent.error().message);
  return Attempt::Failed;
}

}  // namespace gatehouse::mail
