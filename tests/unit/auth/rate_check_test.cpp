// The keys rate limits count under (auth/rate_check.hpp).
#include "auth/rate_check.hpp"

#include <string>

#include <gtest/gtest.h>

#include "support/auth_stack.hpp"

namespace gatehouse::auth {
namespace {

TEST(AccountKey, FoldsAsciiCaseAndDigestsLongNames) {
  EXPECT_EQ(accountKey("Ann@Example.COM"), "ann@example.com");
  const std::string long_name(65, 'a');
  EXPECT_EQ(accountKey(long_name).size(), 33U);
  EXPECT_EQ(accountKey(long_name), accountKey(std::string(65, 'A')));
  EXPECT_NE(accountKey(long_name), accountKey(std::string(66, 'a')));
}

// A review: names were counted bare and accounts as "user:<id>", so typing "user:1" counted on
// account 1's lockout. No typed name reaches an account's key, whatever it spells.
TEST(LockoutKey, NoTypedNameIsAnAccountsKey) {
  for (const std::string id : {"1", "42"}) {
    for (const std::string& typed :
         {"user:" + id, "account:" + id, "Account:" + id, "id:" + id, id, "name:account:" + id}) {
      EXPECT_NE(lockoutKeyOfName(typed), lockoutKey(std::stoll(id))) << typed;
    }
  }
  EXPECT_EQ(lockoutKeyOfName("Ann@Example.COM"), lockoutKeyOfName("ann@example.com"));
  EXPECT_NE(lockoutKey(1), lockoutKey(11));
}

// Found by an outside attack: each spelling of one mailbox had a budget of its own, and fresh
// accounts asking for mails to "victim+1@x", "v.ictim@x"... bombed victim@x.
TEST(MailboxKey, SpellingsOfOneMailboxShareOneKey) {
  const std::string victim = mailboxKey("victim@example.com");
  EXPECT_EQ(victim, "victim@example.com");
  for (const char* same : {"Victim@Example.com", "victim+1@example.com", "victim+a+b@example.com",
                           "Victim+x.y@EXAMPLE.COM"}) {
    EXPECT_EQ(mailboxKey(same), victim) << same;
  }
  // Dots only where the provider ignores them (an outside attack, stop 60: elsewhere v.ictim@ is
  // another mailbox, and its notices spent victim@'s count unseen).
  EXPECT_NE(mailboxKey("v.ictim@example.com"), victim);
  const std::string gmail = mailboxKey("victim@gmail.com");
  for (const char* same : {"v.ictim@gmail.com", "V.I.C.T.I.M+x.y@GMail.com"})
    EXPECT_EQ(mailboxKey(same), gmail) << same;
  EXPECT_EQ(mailboxKey("v.ictim@googlemail.com"), gmail);  // one inbox under both names
  // The domain is the domain: its dots and its case only fold as ever.
  EXPECT_NE(mailboxKey("victim@ex.ample.com"), victim);
  EXPECT_NE(mailboxKey("victim@example.org"), victim);
  EXPECT_NE(mailboxKey("victin@example.com"), victim);
  // A local part that is all subaddress still has a key of its own domain.
  EXPECT_EQ(mailboxKey("+x@example.com"), "@example.com");
  // Long addresses are digested, after folding.
  const std::string local(70, 'v');
  EXPECT_EQ(mailboxKey(local + "+1@example.com"), mailboxKey(local + "@example.com"));
  EXPECT_EQ(mailboxKey(local + "@example.com"), accountKey(local + "@example.com"));
}

// Reviews of the notices' count per client address: while the address is unverified, a notice
// counts per client address, first (refused there, nothing of the recipient's is spent); the
// first of its kind to an address on a budget of its own, eight times the other (a thief must
// spend all of it to silence an owner's first); a verified owner's never counts there.
TEST(NoticeBudget, UnverifiedNoticesCountPerClientAddressTheFirstOnABudgetOfTheirOwn) {
  gatehouse::testing::AuthStack stack{"noticebudget"};
  const NoticeLimits limits{{5, std::chrono::hours(1)}, {2, std::chrono::hours(1)}};
  const ClientInfo one{"198.51.100.1", "ua", "r1"};
  const ClientInfo two{"198.51.100.2", "ua", "r2"};
  auto& rates = stack.rates;
  // The address's count spent by notices to throwaway addresses, past their first.
  for (const char* to : {"a@example.net", "a@example.net", "a@example.net"})
    (void)rates.spendNoticeBudget(limits, "password-changed", to, false, one);
  EXPECT_FALSE(rates.spendNoticeBudget(limits, "password-changed", "a@example.net", false, one));
  // The owner's first notice of a kind still goes, from that address; the next does not.
  EXPECT_TRUE(rates.spendNoticeBudget(limits, "password-changed", "owner@example.com", false, one));
  EXPECT_TRUE(rates.spendNoticeBudget(limits, "factor-removed", "owner@example.com", false, one));
  EXPECT_FALSE(
      rates.spendNoticeBudget(limits, "password-changed", "owner@example.com", false, one));
  // Refused at the address, the recipient's own budget was not spent: from another address the
  // owner has four more of its five.
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(
        rates.spendNoticeBudget(limits, "password-changed", "owner@example.com", false, two));
  // The first notices have a budget of their own, eight times the other (16 here): spent by
  // first notices to throwaway addresses, an owner's first is held back too.
  for (int i = 0; i < 13; ++i) {
    EXPECT_TRUE(rates.spendNoticeBudget(limits, "identity-linked",
                                        "t" + std::to_string(i) + "@example.net", false, one));
  }
  EXPECT_FALSE(rates.spendNoticeBudget(limits, "identity-linked", "owner@example.com", false, one));
  // Held back, it was not its first: from another address it still is.
  EXPECT_TRUE(rates.spendNoticeBudget(limits, "identity-linked", "owner@example.com", false, two));
  // A verified owner's notices never count per address (the address's counts are spent here).
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(rates.spendNoticeBudget(limits, "password-changed", "v@example.com", true, one));
  EXPECT_FALSE(rates.spendNoticeBudget(limits, "password-changed", "v@example.com", true, one));
}

// Found by an outside attack (stop 60): throwaway accounts at dotted spellings of an unverified
// owner's address (b.obsmith@ for bobsmith@, other mailboxes at most providers) spent its count,
// and the owner never heard of a thief's passkey. Only spellings that reach the owner's inbox
// share its count: their notices are seen.
TEST(NoticeBudget, DottedSpellingsElsewhereThanGmailNeverSpendTheOwnersCount) {
  gatehouse::testing::AuthStack stack{"noticespellings"};
  const NoticeLimits limits{{2, std::chrono::hours(1)}, {100, std::chrono::hours(1)}};
  const ClientInfo one{"198.51.100.1", "ua", "r1"};
  auto& rates = stack.rates;
  for (const char* spelling :
       {"b.obsmith@example.com", "bo.bsmith@example.com", "bob.smith@example.com"}) {
    for (int i = 0; i < 2; ++i)
      EXPECT_TRUE(rates.spendNoticeBudget(limits, "passkey-added", spelling, false, one));
  }
  EXPECT_TRUE(rates.spendNoticeBudget(limits, "passkey-added", "bobsmith@example.com", false, one));
  // At Gmail they are the owner's mailbox: counted on it, and delivered to it.
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(
        rates.spendNoticeBudget(limits, "passkey-added", "b.obsmith@gmail.com", false, one));
  EXPECT_FALSE(rates.spendNoticeBudget(limits, "passkey-added", "bobsmith@gmail.com", false, one));
}

}  // namespace
}  // namespace gatehouse::auth
