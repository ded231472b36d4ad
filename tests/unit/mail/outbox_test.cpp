// The outbox over a real SQLite store with a manual clock and a recording transport: bodies
// sealed at rest, each message sent once, retries with exponential backoff, abandonment, metrics.
#include "mail/outbox.hpp"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "core/base64url.hpp"
#include "support/mail_text.hpp"

namespace gatehouse::mail {
namespace {

constexpr const char* kLink = "https://auth.example.com/ui/reset-password#token=Secr3tT0ken_abc";
constexpr const char* kSubject = "Private subject 4711";

// Records what it is given; fails with `failWith`'s code while one is set.
class RecordingTransport final : public Transport {
 public:
  struct Sent {
    std::string from;
    std::string to;
    std::string message;
  };
  core::Status send(std::string_view from, std::string_view to, std::string_view message) override {
    std::lock_guard lock(mutex_);
    ++attempts_;
    if (failure_) return core::makeError(*failure_, "told to fail");
    sent_.push_back({std::string(from), std::string(to), std::string(message)});
    return {};
  }
  std::string describe() const override { return "recording"; }
  void failWith(std::optional<core::Errc> code) {
    std::lock_guard lock(mutex_);
    failure_ = code;
  }
  int attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_;
  }
  std::vector<Sent> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }

 private:
  mutable std::mutex mutex_;
  int attempts_ = 0;
  std::optional<core::Errc> failure_;
  std::vector<Sent> sent_;
};

using testing::textPart;

OutboxSettings settings(std::string key = std::string(32, 'k')) {
  OutboxSettings s;
  s.from = "Gatehouse <noreply@example.com>";
  s.sealing_key = std::move(key);
  s.retry_base_seconds = 30;
  s.max_retry_seconds = 100;
  s.max_attempts = 5;
  s.poll_seconds = 3600;  // only a poke wakes the sender in these tests
  s.lease_seconds = 120;
  return s;
}

class OutboxTest : public ::testing::Test {
 protected:
  ~OutboxTest() override {
    outbox_.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static std::unique_ptr<store::Store> openFresh(const std::filesystem::path& dir) {
    std::filesystem::remove_all(dir);
    auto s = store::openStore("sqlite:///" + (dir / "t.db").string()).value();
    EXPECT_TRUE(s->migrate());
    return s;
  }
  // Prepared, stored and committed as the email flows do; the message as prepared.
  store::OutboxMessage queue(Outbox& outbox, const std::string& to = "ann@example.com") {
    auto m = outbox.prepare(
        "reset-password", to,
        {kSubject, std::string("Open ") + kLink + "\n", std::string("<a href=\"") + kLink + "\">"},
        std::nullopt);
    EXPECT_TRUE(m) << (m ? "" : m.error().message);
    if (!m) return {};
    EXPECT_TRUE(store_->mail().issue({}, {*m}, 1));
    outbox.committed(1);
    return *m;
  }
  std::int64_t pending() { return store_->mail().pending().value(); }
  // Advances the clock, drains, and returns how many attempts the transport has seen in all.
  int attemptsAfter(std::int64_t seconds) {
    clock_.advance(seconds);
    outbox_.drain();
    return transport_.attempts();
  }
  bool metric(const std::string& event, int count) const {
    const std::string line =
        "gatehouse_mail_messages_total{event=\"" + event + "\"} " + std::to_string(count) + "\n";
    return metrics_.render().find(line) != std::string::npos;
  }

  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / ("gatehouse-outbox-" + std::to_string(::getpid()));
  core::ManualClock clock_{1'800'000'000};
  std::unique_ptr<store::Store> store_ = openFresh(dir_);
  audit::AuditLog audit_{store_->audit(), clock_, "", std::nullopt};
  metrics::Registry metrics_;
  RecordingTransport transport_;
  Outbox outbox_{{store_->mail(), &transport_, audit_, metrics_, clock_, settings()}};
};

TEST_F(OutboxTest, PrepareSealsTheBody) {
  const auto m = queue(outbox_);
  EXPECT_EQ(m.kind, "reset-password");
  EXPECT_EQ(m.recipient, "ann@example.com");
  EXPECT_EQ(m.sender, "noreply@example.com");
  EXPECT_EQ(m.created_at, clock_.unixSeconds());
  // What the store holds is what prepare() gave it: no subject, no link, in no encoding.
  auto stored = store_->mail().claim(clock_.unixSeconds(), 60, "node-a").value();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->body, m.body);
  for (const std::string& secret :
       {std::string(kSubject), std::string(kLink), std::string("Secr3tT0ken_abc"),
        core::base64Encode(std::string("Open ") + kLink), std::string("Subject:"),
        std::string("ann@example.com")}) {
    EXPECT_EQ(stored->body.find(secret), std::string::npos) << secret;
  }
  EXPECT_GT(stored->body.size(), std::string(kLink).size());
}

TEST_F(OutboxTest, DrainSendsADueMessageOnceAndMarksItSent) {
  queue(outbox_);
  EXPECT_EQ(pending(), 1);
  EXPECT_EQ(outbox_.drain(), 1U);
  const auto sent = transport_.sent();
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].from, "noreply@example.com");
  EXPECT_EQ(sent[0].to, "ann@example.com");
  EXPECT_NE(sent[0].message.find(std::string("Subject: ") + kSubject + "\r\n"), std::string::npos);
  EXPECT_NE(textPart(sent[0].message).find(kLink), std::string::npos);
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(outbox_.drain(), 0U);
  // Not merely claimed: long after any lease, it is still not sent again.
  EXPECT_EQ(attemptsAfter(86400), 1);
}

TEST_F(OutboxTest, DrainSendsEveryDueMessageOldestFirst) {
  queue(outbox_, "one@example.com");
  queue(outbox_, "two@example.com");
  queue(outbox_, "three@example.com");
  EXPECT_EQ(outbox_.drain(), 3U);
  const auto sent = transport_.sent();
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[0].to, "one@example.com");
  EXPECT_EQ(sent[1].to, "two@example.com");
  EXPECT_EQ(sent[2].to, "three@example.com");
}

TEST_F(OutboxTest, AFailedAttemptIsRetriedWithExponentialBackoffThenAbandoned) {
  transport_.failWith(core::Errc::Unavailable);
  queue(outbox_);
  EXPECT_EQ(outbox_.drain(), 0U);
  EXPECT_EQ(transport_.attempts(), 1);
  EXPECT_EQ(pending(), 1);
  // Delays: 30 (base), 60 (2 x base), then 120 and 240 capped at 100.
  EXPECT_EQ(attemptsAfter(29), 1);
  EXPECT_EQ(attemptsAfter(1), 2);
  EXPECT_EQ(attemptsAfter(59), 2);
  EXPECT_EQ(attemptsAfter(1), 3);
  EXPECT_EQ(attemptsAfter(99), 3);
  EXPECT_EQ(attemptsAfter(1), 4);
  EXPECT_EQ(attemptsAfter(99), 4);
  EXPECT_EQ(attemptsAfter(1), 5);
  // max_attempts (5) reached: abandoned, never tried again.
  EXPECT_EQ(pending(), 0);
  transport_.failWith(std::nullopt);
  EXPECT_EQ(attemptsAfter(100), 5);
  EXPECT_EQ(attemptsAfter(86400), 5);
  EXPECT_TRUE(transport_.sent().empty());
  EXPECT_TRUE(metric("failed", 5));
  EXPECT_TRUE(metric("abandoned", 1));
  EXPECT_TRUE(metric("sent", 0));
}

TEST_F(OutboxTest, ARetryThatSucceedsIsSentOnce) {
  transport_.failWith(core::Errc::Unavailable);
  queue(outbox_);
  EXPECT_EQ(outbox_.drain(), 0U);
  transport_.failWith(std::nullopt);
  clock_.advance(30);
  EXPECT_EQ(outbox_.drain(), 1U);
  EXPECT_EQ(transport_.sent().size(), 1U);
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(attemptsAfter(3600), 2);
}

TEST_F(OutboxTest, APermanentFailureAbandonsAtOnce) {
  transport_.failWith(core::Errc::InvalidArgument);  // e.g. SMTP 550: no such recipient
  queue(outbox_);
  EXPECT_EQ(outbox_.drain(), 0U);
  EXPECT_EQ(transport_.attempts(), 1);
  EXPECT_EQ(pending(), 0);
  transport_.failWith(std::nullopt);
  EXPECT_EQ(attemptsAfter(30), 1);
  EXPECT_EQ(attemptsAfter(86400), 1);
  EXPECT_TRUE(metric("failed", 1));
  EXPECT_TRUE(metric("abandoned", 1));
}

TEST_F(OutboxTest, MetricsCountQueuedSentFailedAndAbandoned) {
  EXPECT_TRUE(metric("queued", 0));
  queue(outbox_);
  queue(outbox_);
  EXPECT_TRUE(metric("queued", 2));
  EXPECT_EQ(outbox_.drain(), 2U);
  transport_.failWith(core::Errc::Unavailable);
  queue(outbox_);
  outbox_.drain();
  EXPECT_TRUE(metric("queued", 3)) << metrics_.render();
  EXPECT_TRUE(metric("sent", 2)) << metrics_.render();
  EXPECT_TRUE(metric("failed", 1)) << metrics_.render();
  EXPECT_TRUE(metric("abandoned", 0)) << metrics_.render();
}

TEST_F(OutboxTest, AMessageSealedWithAnotherKeyIsLeftForTheNodeThatHasIt) {
  // Another node (another MFA_SECRET_KEY) queued it: this one never sends it, and does not give it
  // up either; the node with the key sends it (or this one, once its configuration is mended).
  Outbox other(
      {store_->mail(), &transport_, audit_, metrics_, clock_, settings(std::string(32, 'o'))});
  queue(other);
  EXPECT_EQ(outbox_.drain(), 0U);
  EXPECT_EQ(transport_.attempts(), 0);
  EXPECT_TRUE(transport_.sent().empty());
  EXPECT_EQ(pending(), 1);
  EXPECT_TRUE(metric("abandoned", 0));
  EXPECT_TRUE(metric("failed", 1));
  // Far beyond max_attempts (5), still not given up by the node that cannot open it.
  for (int i = 0; i < 10; ++i) {
    clock_.advance(3600);
    EXPECT_EQ(outbox_.drain(), 0U);
  }
  EXPECT_EQ(pending(), 1);
  EXPECT_TRUE(metric("abandoned", 0));
  clock_.advance(3600);
  EXPECT_EQ(other.drain(), 1U);  // the node holding the key
  EXPECT_EQ(transport_.sent().size(), 1U);
  EXPECT_EQ(pending(), 0);
}

TEST_F(OutboxTest, AMessageWhoseLinkExpiredIsGivenUpNotSent) {
  auto m =
      outbox_.prepare("reset-password", "ann@example.com",
                      {kSubject, std::string("Open ") + kLink + "\n", "<p>x</p>"}, std::nullopt);
  ASSERT_TRUE(m);
  m->expires_at = clock_.unixSeconds() + 900;
  transport_.failWith(core::Errc::Unavailable);  // SMTP is down for a while
  ASSERT_TRUE(store_->mail().issue({}, {*m}, 1));
  EXPECT_EQ(outbox_.drain(), 0U);
  EXPECT_EQ(pending(), 1);
  transport_.failWith(std::nullopt);
  clock_.advance(901);  // SMTP is back, but the link died meanwhile
  EXPECT_EQ(outbox_.drain(), 0U);
  EXPECT_TRUE(transport_.sent().empty());
  EXPECT_EQ(pending(), 0);
  EXPECT_TRUE(metric("abandoned", 1));
}

TEST_F(OutboxTest, AClaimWhoseSenderDiedIsSentAfterItsLease) {
  queue(outbox_);
  // Another node claimed it and crashed before sending.
  ASSERT_TRUE(store_->mail().claim(clock_.unixSeconds(), 120, "node-a").value());
  EXPECT_EQ(outbox_.drain(), 0U);
  EXPECT_EQ(attemptsAfter(119), 0);
  EXPECT_EQ(attemptsAfter(1), 1);
  EXPECT_EQ(transport_.sent().size(), 1U);
  EXPECT_EQ(pending(), 0);
}

TEST_F(OutboxTest, TheSenderDeliversACommittedMessageWithoutWaitingForItsPoll) {
  outbox_.start();
  queue(outbox_);  // committed() pokes the sender; its poll is an hour away
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (transport_.sent().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(transport_.sent().size(), 1U);
  const auto before = std::chrono::steady_clock::now();
  outbox_.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  EXPECT_EQ(pending(), 0);
}

TEST_F(OutboxTest, WithoutATransportMailIsNotConfigured) {
  Outbox none({store_->mail(), nullptr, audit_, metrics_, clock_, settings()});
  EXPECT_FALSE(none.configured());
  EXPECT_TRUE(outbox_.configured());
  none.start();  // nothing to send with: no sender thread
  none.stop();
}

}  // namespace
}  // namespace gatehouse::mail
