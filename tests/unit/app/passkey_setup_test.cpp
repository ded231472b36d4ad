#include "app/passkey_setup.hpp"

#include <gtest/gtest.h>

namespace gatehouse::app {
namespace {

using webauthn::CoseAlg;
using Problems = std::vector<std::string>;

TEST(PasskeySetup, TheServersOwnOriginIsTheRelyingPartyUnlessConfigured) {
  const config::Config config;
  Problems problems;
  const auto setup = passkeySetup(config, "https://auth.example.com", problems);
  EXPECT_EQ(problems, Problems{});
  EXPECT_FALSE(setup.off);
  EXPECT_EQ(setup.relying_party.rp_id, "auth.example.com");
  EXPECT_EQ(setup.relying_party.origins, Problems{"https://auth.example.com"});
  EXPECT_EQ(setup.relying_party.attestation, webauthn::AttestationPolicy::None);
  EXPECT_EQ(setup.relying_party.algorithms, webauthn::supportedAlgs());
}

TEST(PasskeySetup, OriginsMustBeTheRelyingPartysHostOrUnderIt) {
  config::Config config;
  config.webauthn_rp_id = "example.com";
  config.webauthn_origins = {"https://example.com", "https://login.example.com:8443"};
  Problems problems;
  const auto setup = passkeySetup(config, "https://auth.example.com", problems);
  EXPECT_EQ(problems, Problems{});
  EXPECT_EQ(setup.relying_party.origins,
            (Problems{"https://example.com", "https://login.example.com:8443"}));
  // A host that merely ends in the RP ID is not under it, nor is a parent of it; each refused
  // origin is one problem, and the trust store's is reported beside them.
  config.webauthn_origins = {"https://example.com", "https://evilexample.com", "https://com",
                             "ftp://example.com"};
  config.webauthn_trust_store = "/nonexistent/roots.pem";
  problems.clear();
  (void)passkeySetup(config, "https://auth.example.com", problems);
  ASSERT_EQ(problems.size(), 4U);
  EXPECT_EQ(problems[0],
            "WEBAUTHN_ORIGINS: https://evilexample.com is not example.com or under it "
            "(WEBAUTHN_RP_ID)");
  EXPECT_EQ(problems[1],
            "WEBAUTHN_ORIGINS: https://com is not example.com or under it (WEBAUTHN_RP_ID)");
  EXPECT_EQ(problems[2], "WEBAUTHN_ORIGINS: not an http(s) origin: ftp://example.com");
  EXPECT_TRUE(problems[3].starts_with("WEBAUTHN_TRUST_STORE: ")) << problems[3];
}

// The preflight lists every problem: a public URL it refuses (no own origin) does not hide the
// passkeys' own.
TEST(PasskeySetup, WithoutAnOwnOriginTheListedOnesAreStillChecked) {
  config::Config config;
  Problems problems;
  EXPECT_TRUE(passkeySetup(config, "", problems).off);
  EXPECT_EQ(problems, Problems{});
  config.webauthn_rp_id = "example.com";
  config.webauthn_origins = {"https://evil.example"};
  config.webauthn_trust_store = "/nonexistent/roots.pem";
  (void)passkeySetup(config, "", problems);
  ASSERT_EQ(problems.size(), 2U);
  EXPECT_EQ(
      problems[0],
      "WEBAUTHN_ORIGINS: https://evil.example is not example.com or under it (WEBAUTHN_RP_ID)");
  EXPECT_TRUE(problems[1].starts_with("WEBAUTHN_TRUST_STORE: ")) << problems[1];
}

TEST(PasskeySetup, AnAddressAsRelyingPartyTurnsPasskeysOff) {
  const config::Config config;
  for (const std::string own : {"http://127.0.0.1:8000", "http://[::1]:8000"}) {
    Problems problems;
    EXPECT_TRUE(passkeySetup(config, own, problems).off) << own;
    EXPECT_EQ(problems, Problems{}) << own;
  }
  Problems problems;
  const auto named = passkeySetup(config, "http://localhost:8000", problems);
  EXPECT_FALSE(named.off);
  EXPECT_EQ(named.relying_party.rp_id, "localhost");
}

TEST(PasskeySetup, AlgorithmsAndAttestationFollowTheSettings) {
  config::Config config;
  config.webauthn_algorithms = {"EdDSA", "ES256"};
  config.webauthn_attestation_direct = true;
  Problems problems;
  const auto setup = passkeySetup(config, "https://auth.example.com", problems);
  EXPECT_EQ(problems, Problems{});
  // In the order written: the options list them so, and authenticators take the first they can.
  EXPECT_EQ(setup.relying_party.algorithms, (std::vector<CoseAlg>{CoseAlg::EdDSA, CoseAlg::ES256}));
  EXPECT_EQ(setup.relying_party.attestation, webauthn::AttestationPolicy::Direct);
}

}  // namespace
}  // namespace gatehouse::app
