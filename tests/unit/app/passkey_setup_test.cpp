#include "app/passkey_setup.hpp"

#include <gtest/gtest.h>

namespace gatehouse::app {
namespace {

using webauthn::CoseAlg;

TEST(PasskeySetup, TheServersOwnOriginIsTheRelyingPartyUnlessConfigured) {
  const config::Config config;
  const auto setup = passkeySetup(config, "https://auth.example.com");
  ASSERT_TRUE(setup) << setup.error().message;
  EXPECT_FALSE(setup->off);
  EXPECT_EQ(setup->relying_party.rp_id, "auth.example.com");
  EXPECT_EQ(setup->relying_party.origins, std::vector<std::string>{"https://auth.example.com"});
  EXPECT_EQ(setup->relying_party.attestation, webauthn::AttestationPolicy::None);
  EXPECT_EQ(setup->relying_party.algorithms, webauthn::supportedAlgs());
}

TEST(PasskeySetup, OriginsMustBeTheRelyingPartysHostOrUnderIt) {
  config::Config config;
  config.webauthn_rp_id = "example.com";
  config.webauthn_origins = {"https://example.com", "https://login.example.com:8443"};
  const auto setup = passkeySetup(config, "https://auth.example.com");
  ASSERT_TRUE(setup) << setup.error().message;
  EXPECT_EQ(setup->relying_party.origins,
            (std::vector<std::string>{"https://example.com", "https://login.example.com:8443"}));
  // A host that merely ends in the RP ID is not under it, nor is a parent of it.
  for (const std::string origin :
       {"https://evilexample.com", "https://com", "https://example.org"}) {
    config.webauthn_origins = {"https://example.com", origin};
    const auto refused = passkeySetup(config, "https://auth.example.com");
    ASSERT_FALSE(refused) << origin;
    EXPECT_EQ(refused.error().code, core::Errc::InvalidArgument);
    EXPECT_EQ(refused.error().message,
              "WEBAUTHN_ORIGINS: " + origin + " is not example.com or under it (WEBAUTHN_RP_ID)");
  }
  config.webauthn_origins = {"ftp://example.com"};
  const auto not_web = passkeySetup(config, "https://auth.example.com");
  ASSERT_FALSE(not_web);
  EXPECT_EQ(not_web.error().message, "WEBAUTHN_ORIGINS: not an http(s) origin: ftp://example.com");
}

TEST(PasskeySetup, AnAddressAsRelyingPartyTurnsPasskeysOff) {
  const config::Config config;
  for (const std::string own : {"http://127.0.0.1:8000", "http://[::1]:8000"}) {
    const auto setup = passkeySetup(config, own);
    ASSERT_TRUE(setup) << own << ": " << setup.error().message;
    EXPECT_TRUE(setup->off) << own;
  }
  const auto named = passkeySetup(config, "http://localhost:8000");
  ASSERT_TRUE(named);
  EXPECT_FALSE(named->off);
  EXPECT_EQ(named->relying_party.rp_id, "localhost");
}

TEST(PasskeySetup, AlgorithmsAttestationAndTrustStoreFollowTheSettings) {
  config::Config config;
  config.webauthn_algorithms = {"EdDSA", "ES256"};
  config.webauthn_attestation_direct = true;
  const auto setup = passkeySetup(config, "https://auth.example.com");
  ASSERT_TRUE(setup);
  // In the order written: the options list them so, and authenticators take the first they can.
  EXPECT_EQ(setup->relying_party.algorithms,
            (std::vector<CoseAlg>{CoseAlg::EdDSA, CoseAlg::ES256}));
  EXPECT_EQ(setup->relying_party.attestation, webauthn::AttestationPolicy::Direct);
  config.webauthn_trust_store = "/nonexistent/roots.pem";
  const auto no_store = passkeySetup(config, "https://auth.example.com");
  ASSERT_FALSE(no_store);
  EXPECT_TRUE(no_store.error().message.starts_with("WEBAUTHN_TRUST_STORE: "))
      << no_store.error().message;
}

}  // namespace
}  // namespace gatehouse::app
