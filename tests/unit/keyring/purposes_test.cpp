#include "keyring/purposes.hpp"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/aead.hpp"

namespace gatehouse::keyring {
namespace {

constexpr std::string_view kMaster = "a master secret of 32 bytes, not less";

std::vector<std::string> all(const PurposeKeys& k) {
  return {k.oidc_transaction_cookie,
          k.mfa_sealing,
          k.mfa_recovery_codes,
          k.outbox_sealing,
          k.email_tokens,
          k.browser_session_cookie,
          k.csrf_tokens,
          k.op_key_sealing,
          k.op_client_secrets,
          k.op_authorization_codes,
          k.webauthn_challenges,
          k.webauthn_user_handles,
          k.audit_chain};
}

// The labels are part of the stored data's format: written out here a second time, so that a
// label changed in the code (and every sealed secret, keyed hash and cookie with it) fails here.
TEST(PurposeKeys, EachIsTheHkdfOfTheMasterUnderItsLabel) {
  const auto keys = derivePurposeKeys(kMaster);
  ASSERT_TRUE(keys) << keys.error().message;
  const auto expect = [](std::string_view label) {
    return crypto::hkdf(kMaster, label, 32).value();
  };
  EXPECT_EQ(keys->oidc_transaction_cookie, expect("gatehouse oidc transaction cookie v2"));
  EXPECT_EQ(keys->mfa_sealing, expect("gatehouse mfa secret sealing v1"));
  EXPECT_EQ(keys->mfa_recovery_codes, expect("gatehouse mfa recovery codes v1"));
  EXPECT_EQ(keys->outbox_sealing, expect("gatehouse outbox sealing v1"));
  EXPECT_EQ(keys->email_tokens, expect("gatehouse email tokens v1"));
  EXPECT_EQ(keys->browser_session_cookie, expect("gatehouse browser session cookie v1"));
  EXPECT_EQ(keys->csrf_tokens, expect("gatehouse csrf tokens v1"));
  EXPECT_EQ(keys->op_key_sealing, expect("gatehouse op signing key sealing v1"));
  EXPECT_EQ(keys->op_client_secrets, expect("gatehouse op client secrets v1"));
  EXPECT_EQ(keys->op_authorization_codes, expect("gatehouse op authorization codes v1"));
  EXPECT_EQ(keys->webauthn_challenges, expect("gatehouse webauthn challenges v1"));
  EXPECT_EQ(keys->webauthn_user_handles, expect("gatehouse webauthn user handles v1"));
  EXPECT_EQ(keys->audit_chain, expect("gatehouse audit chain v1"));
  // The command line hashes client secrets and seals audit records under the server's keys.
  EXPECT_EQ(opClientSecretKey(kMaster).value(), keys->op_client_secrets);
  EXPECT_EQ(auditChainKey(kMaster).value(), keys->audit_chain);
}

TEST(PurposeKeys, NoTwoPurposesShareAKeyAndEachFollowsTheMaster) {
  const auto keys = derivePurposeKeys(kMaster).value();
  const auto other = derivePurposeKeys("another master secret of 32 bytes!").value();
  const auto mine = all(keys);
  const auto theirs = all(other);
  EXPECT_EQ(std::set<std::string>(mine.begin(), mine.end()).size(), mine.size());
  for (std::size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(mine[i].size(), 32U) << i;
    EXPECT_NE(mine[i], theirs[i]) << i;
  }
}

}  // namespace
}  // namespace gatehouse::keyring
