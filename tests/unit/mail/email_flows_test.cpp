// The email flows on the real service graph (SQLite, bcrypt cost 10) with an injected clock and a
// recording transport: each link is read back out of the message that was actually sent.
#include "mail/email_flows.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "auth/api_keys.hpp"
#include "auth/rate_check.hpp"
#include "core/base64url.hpp"
#include "support/auth_stack.hpp"
#include "support/mail_text.hpp"

namespace gatehouse::mail {
namespace {

using auth::Errc;

constexpr const char* kPassword = "Passw0rd!x";
constexpr const char* kNewPassword = "N3w-Passw0rd!";
constexpr const char* kPublicUrl = "https://auth.example.com";
constexpr std::int64_t kResetTtl = 15 * 60;

class RecordingTransport final : public Transport {
 public:
  struct Sent {
    std::string to;
    std::string message;
  };
  core::Status send(std::string_view, std::string_view to, std::string_view message) override {
    std::lock_guard lock(mutex_);
    sent_.push_back({std::string(to), std::string(message)});
    return {};
  }
  std::string describe() const override { return "recording"; }
  std::vector<Sent> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(sent_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<Sent> sent_;
};

using testing::textPart;

// The token of the first link in `text` that starts with `prefix` ("" when there is none).
std::string tokenAfter(const std::string& text, const std::string& prefix) {
  const auto at = text.find(prefix);
  if (at == std::string::npos) return "";
  const auto start = at + prefix.size();
  const auto end = text.find_first_not_of(
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

OutboxSettings outboxSettings() {
  OutboxSettings s;
  s.from = "Gatehouse <noreply@example.com>";
  s.sealing_key = std::string(32, 'o');
  return s;
}

FlowSettings flowSettings(std::optional<std::string> reset_url = std::nullopt) {
  return {kPublicUrl, std::move(reset_url), "Gatehouse", kResetTtl, 24 * 3600,
          24 * 3600,  std::string(32, 't')};
}

class EmailFlowsTest : public ::testing::Test {
 protected:
  EmailFlowsTest() { background_.start(); }
  ~EmailFlowsTest() override { background_.stop(); }

  store::User registered(const std::string& email = "ann@example.com",
                         const std::string& username = "ann") {
    auto who = stack_.passwords.registerUser({email, username, kPassword}, client_);
    EXPECT_TRUE(who) << (who ? "" : who.error().detail);
    return who ? who->user : store::User{};
  }
  auth::Principal principal(std::int64_t user_id) {
    auto user = stack_.store->users().findById(user_id).value().value();
    return auth::Principal{std::make_shared<const store::User>(user), {}, {}, std::nullopt};
  }
  std::int64_t pending() { return stack_.store->mail().pending().value(); }
  // Everything queued so far, sent through the recording transport.
  std::vector<RecordingTransport::Sent> delivered() {
    outbox_.drain();
    return transport_.take();
  }
  // The token of the one message just sent to `to`, whose link starts with `page`.
  std::string tokenSentTo(const std::string& to, const std::string& page) {
    const auto sent = delivered();
    EXPECT_EQ(sent.size(), 1U);
    if (sent.size() != 1) return "";
    EXPECT_EQ(sent[0].to, to);
    const std::string prefix = std::string(kPublicUrl) + "/ui/" + page + "#token=";
    const std::string text = textPart(sent[0].message);
    const std::string token = tokenAfter(text, prefix);
    EXPECT_GE(token.size(), 43U) << "no link " << prefix << " in:\n" << text;
    return token;
  }
  std::string resetToken(const std::string& email = "ann@example.com") {
    EXPECT_TRUE(flows_.forgot(email, client_));
    flows_.flush();
    return tokenSentTo(email, "reset-password");
  }
  // The confirmation link's token among the messages sent since (sent to `to`).
  std::string changeTokenSentTo(const std::string& to) {
    std::string token;
    for (const auto& s : delivered()) {
      if (s.to != to) continue;
      EXPECT_TRUE(token.empty()) << "two confirmations";
      token = tokenAfter(textPart(s.message), std::string(kPublicUrl) + "/ui/confirm-email#token=");
    }
    EXPECT_GE(token.size(), 43U);
    return token;
  }
  template <class T>
  Errc refusal(const auth::Result<T>& r) {
    return r ? Errc::Internal : r.error().code;  // Internal: "accepted" in these tests
  }

  gatehouse::testing::AuthStack stack_{"mailflows"};
  auth::ClientInfo client_{"127.0.0.1", "browser", "req"};
  auth::ApiKeyService keys_{*stack_.store, stack_.policy, stack_.cache, stack_.audit, stack_.clock};
  RecordingTransport transport_;
  Outbox outbox_{{stack_.store->mail(), &transport_, stack_.audit, stack_.metrics, stack_.clock,
                  outboxSettings()}};
  Templates templates_ = Templates::load(std::nullopt).value();
  Background background_{16};
  EmailFlows flows_{{*stack_.store, stack_.passwords, keys_, stack_.cache, stack_.session_end,
                     stack_.guard, outbox_, templates_, background_, stack_.audit, stack_.metrics,
                     stack_.clock, flowSettings()}};
};

TEST_F(EmailFlowsTest, ForgotForAKnownAddressQueuesOneResetLink) {
  registered();
  // Looked up ignoring case; the mail goes to the account's address as stored.
  ASSERT_TRUE(flows_.forgot("ANN@Example.com", client_));
  flows_.flush();
  EXPECT_EQ(pending(), 1);
  const auto sent = delivered();
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].to, "ann@example.com");
  const std::string text = textPart(sent[0].message);
  EXPECT_NE(text.find(std::string(kPublicUrl) + "/ui/reset-password#token="), std::string::npos)
      << text;
  EXPECT_EQ(pending(), 0);
}

// An outside attack flooded forgot-password from many addresses: past the queue's bound the
// requests were dropped and still answered 202, real owners' among them. Now a full queue is
// Overloaded (503, Retry-After), for known and unknown addresses alike.
TEST_F(EmailFlowsTest, AFullQueueIsSaidNotAnAcceptedRequestDropped) {
  registered();
  Background one{1};
  EmailFlows flows{{*stack_.store, stack_.passwords, keys_, stack_.cache, stack_.session_end,
                    stack_.guard, outbox_, templates_, one, stack_.audit, stack_.metrics,
                    stack_.clock, flowSettings()}};
  ASSERT_TRUE(flows.forgotHasRoom(client_));
  ASSERT_TRUE(flows.forgot("nobody@example.com", client_));  // queued, not yet run
  // Asked before the limits count (a review: a 503 spent the mailbox's budget).
  EXPECT_EQ(refusal(flows.forgotHasRoom(client_)), Errc::Overloaded);
  EXPECT_EQ(refusal(flows.forgot("ann@example.com", client_)), Errc::Overloaded);
  EXPECT_EQ(refusal(flows.forgot("other@example.com", client_)), Errc::Overloaded);
  one.start();
  flows.flush();
  EXPECT_TRUE(delivered().empty());           // the refused request left nothing behind
  ASSERT_TRUE(flows.forgotHasRoom(client_));  // room again
  ASSERT_TRUE(flows.forgot("ann@example.com", client_));
  flows.flush();
  EXPECT_EQ(tokenSentTo("ann@example.com", "reset-password").empty(), false);
  one.stop();
}

TEST_F(EmailFlowsTest, ForgotForAnUnknownOrInactiveAddressQueuesNothing) {
  const auto user = registered();
  ASSERT_TRUE(flows_.forgot("nobody@example.com", client_));
  flows_.flush();
  EXPECT_EQ(pending(), 0);
  store::UserPatch off;
  off.is_active = false;
  ASSERT_TRUE(stack_.store->users().update(user.id, off, "admin"));
  ASSERT_TRUE(flows_.forgot("ann@example.com", client_));
  flows_.flush();
  EXPECT_EQ(pending(), 0);
  EXPECT_TRUE(delivered().empty());
}

TEST_F(EmailFlowsTest, PasswordResetUrlReplacesTheResetLink) {
  EmailFlows custom{{*stack_.store, stack_.passwords, keys_, stack_.cache, stack_.session_end,
                     stack_.guard, outbox_, templates_, background_, stack_.audit, stack_.metrics,
                     stack_.clock, flowSettings("https://app.example.com/reset")}};
  registered();
  ASSERT_TRUE(custom.forgot("ann@example.com", client_));
  custom.flush();
  const auto sent = delivered();
  ASSERT_EQ(sent.size(), 1U);
  const std::string text = textPart(sent[0].message);
  const std::string token = tokenAfter(text, "https://app.example.com/reset#token=");
  EXPECT_GE(token.size(), 43U) << text;
  EXPECT_TRUE(custom.resetPassword(token, kNewPassword, client_));
}

TEST_F(EmailFlowsTest, AResetWorksOnceEndsSessionsAndChangesThePassword) {
  auto pair = stack_.registerUser({"ann@example.com", "ann", kPassword}, client_);
  ASSERT_TRUE(pair);
  const std::string token = resetToken();
  ASSERT_TRUE(flows_.resetPassword(token, kNewPassword, client_));
  EXPECT_EQ(refusal(flows_.resetPassword(token, "An0ther-Passw0rd!", client_)),
            Errc::InvalidEmailToken);
  // Every session ended: its refresh token and its access token are refused.
  EXPECT_EQ(refusal(stack_.sessions.refresh(pair->refresh_token, client_)),
            Errc::InvalidRefreshToken);
  EXPECT_FALSE(stack_.token_check.authenticate(pair->access_token));
  // The new password signs in, the old one does not, and the address is now verified.
  EXPECT_EQ(refusal(stack_.login("ann", kPassword, std::nullopt, client_)),
            Errc::InvalidCredentials);
  EXPECT_TRUE(stack_.login("ann", kNewPassword, std::nullopt, client_));
  EXPECT_TRUE(stack_.store->users().findByEmail("ann@example.com").value()->email_verified);
}

TEST_F(EmailFlowsTest, AResetClearsTheLoginLockout) {
  const auto user = registered();
  // Someone guessed until password login locked: the account's one counter, whichever of its
  // names they typed.
  for (int i = 0; i < 100; ++i)
    (void)stack_.guard.failed(auth::lockoutKey(user.id), stack_.clock.unixSeconds());
  ASSERT_EQ(refusal(stack_.login("ann@example.com", kPassword, std::nullopt, client_)),
            Errc::InvalidCredentials);
  ASSERT_EQ(refusal(stack_.login("ann", kPassword, std::nullopt, client_)),
            Errc::InvalidCredentials);
  ASSERT_TRUE(flows_.resetPassword(resetToken(), kNewPassword, client_));
  EXPECT_TRUE(stack_.login("ann", kNewPassword, std::nullopt, client_));
  EXPECT_TRUE(stack_.login("ann@example.com", kNewPassword, std::nullopt, client_));
}

TEST_F(EmailFlowsTest, APasswordResetVoidsAPendingEmailChange) {
  // Whoever held a session asked to move the account to their own address; the owner, warned by
  // the notice, resets the password as it advises. The stolen session's request must die with it.
  const auto user = registered();
  ASSERT_TRUE(flows_.requestEmailChange(principal(user.id), "thief@example.net", client_));
  const std::string change = changeTokenSentTo("thief@example.net");
  ASSERT_TRUE(flows_.resetPassword(resetToken(), kNewPassword, client_));
  EXPECT_EQ(refusal(flows_.confirmEmailChange(change, client_)), Errc::InvalidEmailToken);
  EXPECT_EQ(stack_.store->users().findById(user.id).value()->email, "ann@example.com");
}

TEST_F(EmailFlowsTest, AResetTokenExpiresWithTheClock) {
  registered();
  const std::string early = resetToken();
  stack_.clock.advance(kResetTtl - 1);
  EXPECT_TRUE(flows_.resetPassword(early, kNewPassword, client_));
  const std::string late = resetToken();
  stack_.clock.advance(kResetTtl);
  EXPECT_EQ(refusal(flows_.resetPassword(late, "An0ther-Passw0rd!", client_)),
            Errc::InvalidEmailToken);
  EXPECT_TRUE(stack_.login("ann", kNewPassword, std::nullopt, client_));
}

TEST_F(EmailFlowsTest, APasswordThePolicyRefusesDoesNotSpendTheToken) {
  registered();
  const std::string token = resetToken();
  auto weak = flows_.resetPassword(token, "short", client_);
  ASSERT_EQ(refusal(weak), Errc::Validation);
  EXPECT_FALSE(weak.error().fields.empty());
  EXPECT_TRUE(flows_.resetPassword(token, kNewPassword, client_));
}

TEST_F(EmailFlowsTest, MalformedAndUnknownTokensAreRefused) {
  registered();
  for (const std::string& token :
       {std::string(""), std::string("not a token"), std::string(200, 'a'), std::string(43, 'A')}) {
    EXPECT_EQ(refusal(flows_.resetPassword(token, kNewPassword, client_)), Errc::InvalidEmailToken)
        << token;
    EXPECT_EQ(refusal(flows_.verifyEmail(token, client_)), Errc::InvalidEmailToken) << token;
    EXPECT_EQ(refusal(flows_.confirmEmailChange(token, client_)), Errc::InvalidEmailToken) << token;
  }
}

TEST_F(EmailFlowsTest, ATokenServesOnlyItsOwnPurpose) {
  const auto user = registered();
  const std::string reset = resetToken();
  ASSERT_TRUE(flows_.requestVerification(principal(user.id), client_));
  const std::string verify = tokenSentTo("ann@example.com", "verify-email");
  EXPECT_EQ(refusal(flows_.resetPassword(verify, kNewPassword, client_)), Errc::InvalidEmailToken);
  EXPECT_EQ(refusal(flows_.confirmEmailChange(verify, client_)), Errc::InvalidEmailToken);
  EXPECT_EQ(refusal(flows_.verifyEmail(reset, client_)), Errc::InvalidEmailToken);
  EXPECT_EQ(refusal(flows_.confirmEmailChange(reset, client_)), Errc::InvalidEmailToken);
  // Each still works for its own purpose: the refusals spent nothing.
  auto verified = flows_.verifyEmail(verify, client_);
  ASSERT_TRUE(verified);
  EXPECT_TRUE(verified->email_verified);
  EXPECT_TRUE(flows_.resetPassword(reset, kNewPassword, client_));
}

TEST_F(EmailFlowsTest, AnEmailChangeSendsAConfirmationAndANoticeThenApplies) {
  const auto user = registered();
  ASSERT_TRUE(flows_.requestEmailChange(principal(user.id), "ann.new@example.com", client_));
  const auto sent = delivered();
  ASSERT_EQ(sent.size(), 2U);
  const auto& confirm = sent[0].to == "ann.new@example.com" ? sent[0] : sent[1];
  const auto& notice = sent[0].to == "ann.new@example.com" ? sent[1] : sent[0];
  EXPECT_EQ(confirm.to, "ann.new@example.com");
  EXPECT_EQ(notice.to, "ann@example.com");
  EXPECT_EQ(textPart(notice.message).find("#token="), std::string::npos);
  const std::string token =
      tokenAfter(textPart(confirm.message), std::string(kPublicUrl) + "/ui/confirm-email#token=");
  ASSERT_GE(token.size(), 43U) << textPart(confirm.message);
  // Nothing changes until the new address confirms.
  EXPECT_EQ(stack_.store->users().findById(user.id).value()->email, "ann@example.com");
  auto changed = flows_.confirmEmailChange(token, client_);
  ASSERT_TRUE(changed) << changed.error().detail;
  EXPECT_EQ(changed->email, "ann.new@example.com");
  EXPECT_TRUE(changed->email_verified);
  EXPECT_EQ(stack_.store->users().findById(user.id).value()->email, "ann.new@example.com");
  EXPECT_EQ(refusal(flows_.confirmEmailChange(token, client_)), Errc::InvalidEmailToken);
}

TEST_F(EmailFlowsTest, AConfirmedEmailChangeVoidsAResetLinkSentToTheOldAddress) {
  const auto user = registered();
  const std::string reset = resetToken();
  ASSERT_TRUE(flows_.requestEmailChange(principal(user.id), "ann.new@example.com", client_));
  const std::string change = changeTokenSentTo("ann.new@example.com");
  ASSERT_TRUE(flows_.confirmEmailChange(change, client_));
  EXPECT_EQ(refusal(flows_.resetPassword(reset, kNewPassword, client_)), Errc::InvalidEmailToken);
  EXPECT_TRUE(stack_.login("ann", kPassword, std::nullopt, client_));
}

TEST_F(EmailFlowsTest, AnAddressTakenByAnotherUserIsToldOnlyAtConfirmation) {
  const auto ann = registered();
  const auto bob = registered("bob@example.com", "bob");
  // The request answers as for a free address, and mails the address's owner.
  ASSERT_TRUE(flows_.requestEmailChange(principal(ann.id), "BOB@example.com", client_));
  const std::string token = changeTokenSentTo("BOB@example.com");
  EXPECT_EQ(refusal(flows_.confirmEmailChange(token, client_)), Errc::EmailTaken);
  EXPECT_EQ(stack_.store->users().findById(ann.id).value()->email, "ann@example.com");
  EXPECT_EQ(stack_.store->users().findById(bob.id).value()->email, "bob@example.com");
  // The refusal spent nothing: once the address is free, the same link works.
  store::UserPatch move;
  move.email = "robert@example.com";
  ASSERT_TRUE(stack_.store->users().update(bob.id, move, "admin"));
  auto changed = flows_.confirmEmailChange(token, client_);
  ASSERT_TRUE(changed) << changed.error().detail;
  EXPECT_EQ(changed->email, "BOB@example.com");
}

TEST_F(EmailFlowsTest, OnlyTheNewestEmailChangeRequestStands) {
  const auto user = registered();
  ASSERT_TRUE(flows_.requestEmailChange(principal(user.id), "first@example.com", client_));
  const std::string first = changeTokenSentTo("first@example.com");
  ASSERT_TRUE(flows_.requestEmailChange(principal(user.id), "second@example.com", client_));
  const std::string second = changeTokenSentTo("second@example.com");
  EXPECT_EQ(refusal(flows_.confirmEmailChange(first, client_)), Errc::InvalidEmailToken);
  EXPECT_EQ(flows_.confirmEmailChange(second, client_).value().email, "second@example.com");
}

TEST_F(EmailFlowsTest, RegistrationWritesTheUserAndItsVerificationMailTogether) {
  auto who = stack_.passwords.registerUser({"cy@example.com", "cyril", kPassword}, client_,
                                           flows_.registration(client_));
  ASSERT_TRUE(who) << who.error().detail;
  EXPECT_FALSE(who->user.email_verified);
  EXPECT_EQ(pending(), 1);
  const std::string token = tokenSentTo("cy@example.com", "verify-email");
  auto verified = flows_.verifyEmail(token, client_);
  ASSERT_TRUE(verified) << verified.error().detail;
  EXPECT_EQ(verified->id, who->user.id);
  EXPECT_TRUE(stack_.store->users().findById(who->user.id).value()->email_verified);
  EXPECT_EQ(refusal(flows_.requestVerification(principal(who->user.id), client_)),
            Errc::EmailAlreadyVerified);
}

TEST_F(EmailFlowsTest, ARegistrationThatLosesARaceWritesNoMail) {
  registered("taken@example.com", "first");
  // As when two registrations of one address pass the early checks together.
  auto creator = flows_.registration(client_);
  auto lost = creator({"TAKEN@example.com", "second", "$2b$10$hash", "user", true, false});
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, core::Errc::AlreadyExists);
  EXPECT_EQ(pending(), 0);
  EXPECT_FALSE(stack_.store->users().findByUsername("second").value());
  EXPECT_TRUE(delivered().empty());
}

TEST_F(EmailFlowsTest, WithoutMailTheFlowsAnswerMailNotConfigured) {
  Outbox none({stack_.store->mail(), nullptr, stack_.audit, stack_.metrics, stack_.clock,
               outboxSettings()});
  EmailFlows flows{{*stack_.store, stack_.passwords, keys_, stack_.cache, stack_.session_end,
                    stack_.guard, none, templates_, background_, stack_.audit, stack_.metrics,
                    stack_.clock, flowSettings()}};
  const auto user = registered();
  EXPECT_FALSE(flows.configured());
  EXPECT_EQ(refusal(flows.forgot("ann@example.com", client_)), Errc::MailNotConfigured);
  EXPECT_EQ(refusal(flows.requestVerification(principal(user.id), client_)),
            Errc::MailNotConfigured);
  EXPECT_EQ(refusal(flows.requestEmailChange(principal(user.id), "ann.new@example.com", client_)),
            Errc::MailNotConfigured);
  flows.flush();
  EXPECT_EQ(pending(), 0);
}

}  // namespace
}  // namespace gatehouse::mail
