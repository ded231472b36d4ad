// The second factor's rules on the real service graph (SQLite) with an injected clock: skew,
// replay, recovery codes, and the mfa_token's binding and lifetime. Each fails when its rule goes.
#include "mfa/mfa_service.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/ascii.hpp"
#include "mfa/base32.hpp"
#include "mfa/totp.hpp"
#include "support/auth_stack.hpp"

namespace gatehouse::mfa {
namespace {

using auth::Errc;
namespace json = boost::json;

class MfaRules : public ::testing::Test {
 protected:
  MfaRules() {
    auto made =
        stack_.passwords.registerUser({"mfa@example.com", "mfauser", "Passw0rd!x"}, client_);
    EXPECT_TRUE(made);
    user_ = made->user;
  }

  // Enrols and confirms a factor at the clock's current step; its raw secret.
  std::string enrolled() {
    auto e = mfa_.enrol(user_, "phone", client_);
    EXPECT_TRUE(e) << (e ? "" : e.error().detail);
    if (!e) return {};
    const std::string secret = base32Decode(e->secret).value();
    auto codes = mfa_.confirm(user_, e->id, totpCode(secret, step()), client_);
    EXPECT_TRUE(codes) << (codes ? "" : codes.error().detail);
    if (codes && *codes) recovery_ = **codes;
    user_ = stack_.store->users().findById(user_.id).value().value();
    return secret;
  }
  std::int64_t step() const { return stepAt(stack_.clock.unixSeconds()); }
  std::string challenge() {
    auth::SignedIn who{user_, {}, {std::nullopt, {"pwd"}, stack_.clock.unixSeconds()}};
    return mfa_.challenge(who, client_).value();
  }
  Errc refusal(const std::string& token, const std::string& code, const auth::ClientInfo& client) {
    auto r = mfa_.verify(token, code, client);
    return r ? Errc::Internal : r.error().code;  // Internal: "accepted" in these tests
  }

  gatehouse::testing::AuthStack stack_{"mfa"};
  auth::ClientInfo client_{"127.0.0.1", "browser", "req"};
  MfaService mfa_{{*stack_.store, stack_.once, stack_.limiter, stack_.rates, stack_.policy,
                   stack_.cache, stack_.audit, stack_.metrics, stack_.clock,
                   Settings{"Gatehouse",
                            {1000, std::chrono::seconds(60)},
                            std::string(32, 'k'),
                            std::string(32, 'c')}}};
  store::User user_;
  std::vector<std::string> recovery_;
};

TEST_F(MfaRules, OneStepOfSkewEitherWayIsAcceptedTwoAreNot) {
  const std::string secret = enrolled();
  stack_.clock.advance(300);  // well past the confirming step
  const std::int64_t now = step();
  EXPECT_EQ(refusal(challenge(), totpCode(secret, now - 2), client_), Errc::InvalidMfaCode);
  EXPECT_EQ(refusal(challenge(), totpCode(secret, now + 2), client_), Errc::InvalidMfaCode);
  auto early = mfa_.verify(challenge(), totpCode(secret, now - 1), client_);
  ASSERT_TRUE(early) << early.error().detail;
  EXPECT_EQ(early->grant.amr, (std::vector<std::string>{"pwd", "otp"}));
  EXPECT_EQ(early->grant.auth_time, stack_.clock.unixSeconds());
  EXPECT_TRUE(mfa_.verify(challenge(), totpCode(secret, now + 1), client_));
}

TEST_F(MfaRules, EachStepIsAcceptedOnceAndNeverAnEarlierOne) {
  const std::string secret = enrolled();
  // The confirming step itself is spent.
  EXPECT_EQ(refusal(challenge(), totpCode(secret, step()), client_), Errc::InvalidMfaCode);
  stack_.clock.advance(30);
  const std::string code = totpCode(secret, step());
  EXPECT_TRUE(mfa_.verify(challenge(), code, client_));
  EXPECT_EQ(refusal(challenge(), code, client_), Errc::InvalidMfaCode);  // replay
  stack_.clock.advance(30);
  // After a later step was used, the one before it (still within the window) is refused too.
  EXPECT_TRUE(mfa_.verify(challenge(), totpCode(secret, step()), client_));
  EXPECT_EQ(refusal(challenge(), totpCode(secret, step() - 1), client_), Errc::InvalidMfaCode);
}

TEST_F(MfaRules, RecoveryCodesWorkOnceInAnySpellingAndDieWhenRegenerated) {
  enrolled();
  ASSERT_EQ(recovery_.size(), 10U);
  std::string shouted = recovery_[0];
  for (auto& ch : shouted) ch = core::upperAscii(ch);
  auto used = mfa_.verify(challenge(), shouted, client_);
  ASSERT_TRUE(used) << used.error().detail;
  EXPECT_EQ(used->grant.amr, (std::vector<std::string>{"pwd", "rc"}));
  EXPECT_EQ(refusal(challenge(), recovery_[0], client_), Errc::InvalidMfaCode);
  EXPECT_EQ(mfa_.list(user_.id)->recovery_codes_left, 9);
  auto fresh = mfa_.newRecoveryCodes(user_, client_);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(refusal(challenge(), recovery_[1], client_), Errc::InvalidMfaCode);
  EXPECT_TRUE(mfa_.verify(challenge(), (*fresh)[0], client_));
}

TEST_F(MfaRules, TheMfaTokenIsSingleUseBoundToItsClientAndLivesFiveMinutes) {
  const std::string secret = enrolled();
  stack_.clock.advance(60);
  // Another client: refused, and the token is spent.
  const std::string stolen = challenge();
  EXPECT_EQ(refusal(stolen, totpCode(secret, step()), {"10.9.9.9", "browser", "r"}),
            Errc::InvalidMfaCode);
  EXPECT_EQ(refusal(stolen, totpCode(secret, step()), client_), Errc::InvalidMfaCode);
  // A mistyped code may be retried with the same token; a success spends it.
  const std::string token = challenge();
  EXPECT_EQ(refusal(token, "000000" == totpCode(secret, step()) ? "111111" : "000000", client_),
            Errc::InvalidMfaCode);
  EXPECT_TRUE(mfa_.verify(token, totpCode(secret, step()), client_));
  stack_.clock.advance(30);
  EXPECT_EQ(refusal(token, totpCode(secret, step()), client_), Errc::InvalidMfaCode);
  // Five minutes.
  const std::string late = challenge();
  stack_.clock.advance(301);
  EXPECT_EQ(refusal(late, totpCode(secret, step()), client_), Errc::InvalidMfaCode);
}

TEST_F(MfaRules, APasswordChangeAfterThePasswordStepVoidsTheMfaToken) {
  const std::string secret = enrolled();
  stack_.clock.advance(60);
  const std::string token = challenge();
  stack_.clock.advance(1);
  ASSERT_TRUE(
      stack_.passwords.setPassword(user_.id, "An0ther-Passw0rd!", auth::commandLineClient()));
  EXPECT_EQ(refusal(token, totpCode(secret, step()), client_), Errc::InvalidMfaCode);
  // Recorded as such (a review found no test naming the reason).
  auto events = stack_.store->audit().query({.type = "mfa.failed"});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1U);
  EXPECT_EQ(json::parse(events->front().detail).at("reason").as_string(), "account_changed");
}

// The second step of an external sign-in needs its identity still linked: an unlinking changes no
// account mark (a review), and a reset removing the identity may commit after the first step.
TEST_F(MfaRules, AnIdentityUnlinkedAfterTheFirstStepVoidsTheMfaToken) {
  const std::string secret = enrolled();
  auto identity = stack_.store->identities().create(
      {0, user_.id, "oidc", "https://idp", "sub-mfa", user_.email, stack_.clock.unixSeconds()});
  ASSERT_TRUE(identity) << identity.error().message;
  stack_.clock.advance(60);
  auth::SignedIn who{user_, {}, {std::nullopt, {"ext"}, stack_.clock.unixSeconds()}, identity->id};
  const std::string token = mfa_.challenge(who, client_).value();
  ASSERT_TRUE(stack_.store->identities().removeUnlessLast(identity->id, user_.id));
  EXPECT_EQ(refusal(token, totpCode(secret, step()), client_), Errc::InvalidMfaCode);
  auto events = stack_.store->audit().query({.type = "mfa.failed"});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1U);
  EXPECT_EQ(json::parse(events->front().detail).at("reason").as_string(), "identity_gone");
  // Still linked, the same kind of token passes.
  auto kept = stack_.store->identities().create(
      {0, user_.id, "oidc", "https://idp", "sub-mfa2", user_.email, stack_.clock.unixSeconds()});
  ASSERT_TRUE(kept);
  stack_.clock.advance(60);
  who.identity_id = kept->id;
  who.grant.auth_time = stack_.clock.unixSeconds();
  EXPECT_TRUE(mfa_.verify(mfa_.challenge(who, client_).value(), totpCode(secret, step()), client_));
}

TEST_F(MfaRules, ASecondPasswordChangeWithinTheWatermarksSecondStillVoidsTheMfaToken) {
  // The watermark counts seconds: a change, a password step with the new password, and another
  // change, all in one second, leave it where it was. The password hash does not stay.
  const std::string secret = enrolled();
  stack_.clock.advance(60);
  ASSERT_TRUE(
      stack_.passwords.setPassword(user_.id, "Stolen-Passw0rd!", auth::commandLineClient()));
  user_ = stack_.store->users().findById(user_.id).value().value();
  const std::string token = challenge();
  ASSERT_TRUE(
      stack_.passwords.setPassword(user_.id, "Owners-Passw0rd!", auth::commandLineClient()));
  ASSERT_EQ(stack_.store->users().findById(user_.id).value().value().tokens_valid_after,
            user_.tokens_valid_after);
  EXPECT_EQ(refusal(token, totpCode(secret, step()), client_), Errc::InvalidMfaCode);
}

TEST_F(MfaRules, AttemptsCountBeforeTheyAreCheckedAndASuccessClearsThem) {
  MfaService strict{{*stack_.store, stack_.once, stack_.limiter, stack_.rates, stack_.policy,
                     stack_.cache, stack_.audit, stack_.metrics, stack_.clock,
                     Settings{"Gatehouse",
                              {3, std::chrono::seconds(900)},
                              std::string(32, 'k'),
                              std::string(32, 'c')}}};
  const std::string secret = enrolled();
  stack_.clock.advance(60);
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(strict.check(user_, "12345x", client_).error().code, Errc::InvalidMfaCode);
  EXPECT_TRUE(strict.check(user_, totpCode(secret, step()), client_));  // clears the count
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(strict.check(user_, "12345x", client_).error().code, Errc::InvalidMfaCode);
  // The limit holds even for the right code: a guess is counted before it is checked.
  stack_.clock.advance(30);
  EXPECT_EQ(strict.check(user_, totpCode(secret, step()), client_).error().code, Errc::RateLimited);
}

TEST_F(MfaRules, TheOwnerIsToldOncePerWindowWhenWrongCodesMeetTheLimit) {
  // Found by an outside attack: guessing codes had a rate but nothing told the owner, whose
  // password the guesser holds. The first refusal of a window tells the owner; a success between
  // the failures (the owner's own typo) tells nothing.
  std::vector<std::int64_t> told;
  Settings settings{
      "Gatehouse", {3, std::chrono::seconds(900)}, std::string(32, 'k'), std::string(32, 'c')};
  settings.on_repeated_failures = [&told](const store::User& u, const auth::ClientInfo&) {
    told.push_back(u.id);
  };
  MfaService strict{{*stack_.store, stack_.once, stack_.limiter, stack_.rates, stack_.policy,
                     stack_.cache, stack_.audit, stack_.metrics, stack_.clock, settings}};
  const std::string secret = enrolled();
  stack_.clock.advance(60);
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(strict.check(user_, "12345x", client_));
  EXPECT_TRUE(strict.check(user_, totpCode(secret, step()), client_));
  EXPECT_TRUE(told.empty());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(strict.check(user_, "12345x", client_));
  EXPECT_TRUE(told.empty());  // three attempts: the limit met, not passed
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(strict.check(user_, "12345x", client_).error().code, Errc::RateLimited);
  EXPECT_EQ(told, std::vector<std::int64_t>{user_.id});  // once in the window
  stack_.clock.advance(901);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(strict.check(user_, "12345x", client_));
  EXPECT_EQ(told, (std::vector<std::int64_t>{user_.id, user_.id}));  // the next window's
}

TEST_F(MfaRules, CodesTriedInARowLockOnEveryNodeUntilAResetOrAPasskey) {
  // Left open by the rate limit alone: 5 guesses per 15 minutes, kept up, found a TOTP code
  // within two years on average. MFA_LOCKOUT_THRESHOLD (3 here) codes tried in a row without a
  // right one lock the codes, the right one included. A new password does not unlock them (a
  // review: whoever reads the mailbox sets one, and a lock it lifted bought 100 more guesses);
  // an administrator's reset or a passkey does.
  std::vector<std::int64_t> told;
  Settings settings{
      "Gatehouse", {1000, std::chrono::seconds(60)}, std::string(32, 'k'), std::string(32, 'c')};
  settings.on_codes_locked = [&told](const store::User& u, const auth::ClientInfo&) {
    told.push_back(u.id);
  };
  settings.lockout_threshold = 3;
  MfaService strict{{*stack_.store, stack_.once, stack_.limiter, stack_.rates, stack_.policy,
                     stack_.cache, stack_.audit, stack_.metrics, stack_.clock, settings}};
  const std::string secret = enrolled();
  const auto right = [&] {
    stack_.clock.advance(30);  // each step is accepted once
    return totpCode(secret, step());
  };
  // Two wrong and a right one: the count starts again.
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(strict.check(user_, "123456", client_));
  EXPECT_TRUE(strict.check(user_, right(), client_));
  // The attempt meeting the threshold, when right, locks nothing.
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(strict.check(user_, "123456", client_));
  EXPECT_TRUE(strict.check(user_, right(), client_));
  EXPECT_TRUE(told.empty());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(strict.check(user_, "12345x", client_));
  EXPECT_EQ(told, std::vector<std::int64_t>{user_.id});
  auto locked = strict.check(user_, right(), client_);
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code, Errc::InvalidMfaCode);
  EXPECT_FALSE(strict.check(user_, recovery_.at(0), client_));
  // Another node's service reads the same count.
  MfaService other{{*stack_.store, stack_.once, stack_.limiter, stack_.rates, stack_.policy,
                    stack_.cache, stack_.audit, stack_.metrics, stack_.clock, settings}};
  EXPECT_FALSE(other.check(user_, right(), client_));
  // Neither time nor a new password unlocks them, and the owner is told once.
  stack_.clock.advance(30 * 24 * 3600);
  ASSERT_TRUE(
      stack_.passwords.setPassword(user_.id, "An0ther-Passw0rd!", auth::commandLineClient()));
  user_ = stack_.store->users().findById(user_.id).value().value();
  EXPECT_FALSE(strict.check(user_, right(), client_));
  EXPECT_EQ(told.size(), 1U);
  // A passkey proved the owner (MfaService::passkeySucceeded): the codes work again, the
  // recovery code refused under the lock was not spent.
  strict.passkeySucceeded(user_, client_);
  EXPECT_TRUE(other.check(user_, right(), client_));
  EXPECT_TRUE(other.check(user_, recovery_.at(0), client_));
  // Locked again, an administrator's reset takes the count with the factors.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(other.check(user_, "12345x", client_));
  EXPECT_EQ(told.size(), 2U);
  EXPECT_FALSE(strict.check(user_, right(), client_));
  ASSERT_TRUE(strict.reset(user_.id, std::nullopt, client_));
  user_ = stack_.store->users().findById(user_.id).value().value();
  const std::string fresh = enrolled();
  stack_.clock.advance(30);
  EXPECT_TRUE(strict.check(user_, totpCode(fresh, step()), client_));
}

TEST_F(MfaRules, AnEnrolmentLeftUnfinishedForADayCannotBeConfirmed) {
  // An outside attack confirmed a three-day-old enrolment (the docs say they live a day).
  auto e = mfa_.enrol(user_, "phone", client_);
  ASSERT_TRUE(e);
  const std::string secret = base32Decode(e->secret).value();
  stack_.clock.advance(24 * 3600);
  auto late = mfa_.confirm(user_, e->id, totpCode(secret, step()), client_);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Errc::FactorNotFound);
  // One a second short of a day still confirms.
  auto again = mfa_.enrol(user_, "phone", client_);
  ASSERT_TRUE(again);
  stack_.clock.advance(24 * 3600 - 1);
  const std::string fresh = base32Decode(again->secret).value();
  EXPECT_TRUE(mfa_.confirm(user_, again->id, totpCode(fresh, step()), client_));
}

// The review: an enrolment begun below the limit, then a passkey filling the last place, then the
// enrolment confirmed, made one factor more than the limit.
TEST_F(MfaRules, AnEnrolmentIsNotConfirmedPastTheLimit) {
  for (int i = 0; i < 9; ++i) enrolled();
  auto pending = mfa_.enrol(user_, "tenth", client_);
  ASSERT_TRUE(pending);
  store::MfaFactor key{0, user_.id, "webauthn", "key", "", false, 1, {}, 0, "cred-limit", "{}"};
  ASSERT_TRUE(stack_.store->sessions().create(
      {"limit-sid", user_.id, "jti-limit", "", "", 1, 1, 4'000'000'000, false}));
  ASSERT_TRUE(stack_.store->mfa().addConfirmed(key, 10, {}, "limit-sid"));
  const std::string secret = base32Decode(pending->secret).value();
  auto over = mfa_.confirm(user_, pending->id, totpCode(secret, step()), client_);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::FactorLimit);
  EXPECT_EQ(stack_.store->mfa().listForUser(user_.id).value().size(), 11U);  // ten and the pending
}

TEST_F(MfaRules, SecretsAreSealedForTheirUserAndConfirmationIsTheOwners) {
  auto e = mfa_.enrol(user_, "phone", client_);
  ASSERT_TRUE(e);
  const auto row = stack_.store->mfa().find(e->id).value().value();
  EXPECT_EQ(row.secret.find(e->secret), std::string::npos);  // never stored plain
  const std::string secret = base32Decode(e->secret).value();
  EXPECT_EQ(secret.size(), kTotpSecretBytes);
  store::User other = user_;
  other.id += 1000;
  EXPECT_EQ(mfa_.confirm(other, e->id, totpCode(secret, step()), client_).error().code,
            Errc::FactorNotFound);
  EXPECT_EQ(mfa_.confirm(user_, e->id, "000000" == totpCode(secret, step()) ? "111111" : "000000",
                         client_)
                .error()
                .code,
            Errc::WrongConfirmationCode);
  EXPECT_TRUE(mfa_.confirm(user_, e->id, totpCode(secret, step()), client_));
  EXPECT_EQ(mfa_.confirm(user_, e->id, totpCode(secret, step()), client_).error().code,
            Errc::FactorNotFound);  // once
}

}  // namespace
}  // namespace gatehouse::mfa
