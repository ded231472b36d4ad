// PKCE (RFC 7636), shared by the OpenID Provider's clients and external sign-in's frontends.
#include "crypto/pkce.hpp"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace gatehouse::crypto {
namespace {

// RFC 7636 Appendix B.
constexpr std::string_view kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr std::string_view kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

TEST(Pkce, MatchesTheRfcExample) {
  EXPECT_EQ(s256Challenge(kVerifier), kChallenge);
  EXPECT_TRUE(verifierMatches(kVerifier, kChallenge));
}

TEST(Pkce, RefusesOtherVerifiersAndMalformedOnes) {
  std::string other(kVerifier);
  other.back() = 'j';
  EXPECT_FALSE(verifierMatches(other, kChallenge));
  EXPECT_FALSE(verifierMatches(kChallenge, kChallenge));
  EXPECT_FALSE(verifierMatches("short", s256Challenge("short")));  // under 43 characters
  const std::string too_long(129, 'a');
  EXPECT_FALSE(verifierMatches(too_long, s256Challenge(too_long)));
  const std::string bad = std::string(43, 'a') + "+";
  EXPECT_FALSE(isPkceValue(bad));
  EXPECT_TRUE(isPkceValue(std::string(128, '~')));
}

}  // namespace
}  // namespace gatehouse::crypto
