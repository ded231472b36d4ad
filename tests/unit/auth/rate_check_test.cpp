// The keys rate limits count under (auth/rate_check.hpp).
#include "auth/rate_check.hpp"

#include <string>

#include <gtest/gtest.h>

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
                           "v.ictim@example.com", "V.I.C.T.I.M+x.y@EXAMPLE.COM"}) {
    EXPECT_EQ(mailboxKey(same), victim) << same;
  }
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

}  // namespace
}  // namespace gatehouse::auth
