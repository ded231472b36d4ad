#include "mfa/totp.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/random.hpp"
#include "mfa/base32.hpp"

namespace gatehouse::mfa {
namespace {

constexpr std::string_view kRfcSeed = "12345678901234567890";

// RFC 6238 Appendix B, SHA-1 rows (8 digits).
TEST(TotpCode, MatchesRfc6238AppendixB) {
  const std::array<std::pair<std::int64_t, const char*>, 6> vectors = {{
      {59, "94287082"},
      {1111111109, "07081804"},
      {1111111111, "14050471"},
      {1234567890, "89005924"},
      {2000000000, "69279037"},
      {20000000000, "65353130"},
  }};
  for (const auto& [time, code] : vectors) {
    EXPECT_EQ(totpCode(kRfcSeed, stepAt(time), 8), code) << time;
  }
}

// RFC 4226 Appendix D: HOTP with counters 0..9.
TEST(TotpCode, MatchesRfc4226AppendixD) {
  const std::array<const char*, 10> expected = {"755224", "287082", "359152", "969429", "338314",
                                                "254676", "287922", "162583", "399871", "520489"};
  for (std::size_t counter = 0; counter < expected.size(); ++counter) {
    EXPECT_EQ(totpCode(kRfcSeed, static_cast<std::int64_t>(counter)), expected[counter]) << counter;
  }
}

TEST(TotpCode, RefusesEmptySecretAndOddDigitCounts) {
  EXPECT_EQ(totpCode("", 1), "");
  EXPECT_EQ(totpCode(kRfcSeed, 1, 5), "");
  EXPECT_EQ(totpCode(kRfcSeed, 1, 9), "");
  EXPECT_EQ(totpCode(kRfcSeed, 1, 7).size(), 7U);
}

TEST(StepAt, FloorsToThirtySecondSteps) {
  EXPECT_EQ(stepAt(0), 0);
  EXPECT_EQ(stepAt(29), 0);
  EXPECT_EQ(stepAt(30), 1);
  EXPECT_EQ(stepAt(59), 1);
  EXPECT_EQ(stepAt(1111111111), 37037037);
  EXPECT_EQ(stepAt(-1), -1);
  EXPECT_EQ(stepAt(-30), -1);
  EXPECT_EQ(stepAt(-31), -2);
}

TEST(MatchStep, AcceptsOneStepEitherSideAndReturnsIt) {
  const std::int64_t now = 1111111111;
  const std::int64_t step = stepAt(now);
  for (const std::int64_t delta : {-1, 0, 1}) {
    const std::string code = totpCode(kRfcSeed, step + delta);
    EXPECT_EQ(matchStep(kRfcSeed, code, now), step + delta) << delta;
  }
}

TEST(MatchStep, RefusesTwoStepsAwayUnlessTheWindowAllowsIt) {
  const std::int64_t now = 1234567890;
  const std::int64_t step = stepAt(now);
  for (const std::int64_t delta : {-2, 2}) {
    const std::string code = totpCode(kRfcSeed, step + delta);
    EXPECT_EQ(matchStep(kRfcSeed, code, now), std::nullopt) << delta;
    EXPECT_EQ(matchStep(kRfcSeed, code, now, 2), step + delta) << delta;
  }
  EXPECT_EQ(matchStep(kRfcSeed, totpCode(kRfcSeed, step + 1), now, 0), std::nullopt);
  EXPECT_EQ(matchStep(kRfcSeed, totpCode(kRfcSeed, step), now, 0), step);
}

TEST(MatchStep, RefusesWrongSecretAndBadWindows) {
  const std::int64_t now = 2000000000;
  const std::string code = totpCode(kRfcSeed, stepAt(now));
  EXPECT_EQ(matchStep("another secret 12345", code, now), std::nullopt);
  EXPECT_EQ(matchStep("", code, now), std::nullopt);
  EXPECT_EQ(matchStep(kRfcSeed, code, now, -1), std::nullopt);
  EXPECT_EQ(matchStep(kRfcSeed, code, now, kMaxTotpWindow + 1), std::nullopt);
  EXPECT_EQ(matchStep(kRfcSeed, code, now, kMaxTotpWindow), stepAt(now));
}

TEST(MatchStep, RefusesCodesThatAreNotSixAsciiDigits) {
  const std::int64_t now = 59;
  const std::string code = totpCode(kRfcSeed, stepAt(now));  // "287082"
  ASSERT_EQ(matchStep(kRfcSeed, code, now), stepAt(now));
  EXPECT_EQ(matchStep(kRfcSeed, code.substr(1), now), std::nullopt);  // 5 digits
  EXPECT_EQ(matchStep(kRfcSeed, code + "0", now), std::nullopt);      // 7 digits
  EXPECT_EQ(matchStep(kRfcSeed, "0" + code, now), std::nullopt);      // 7 digits
  EXPECT_EQ(matchStep(kRfcSeed, totpCode(kRfcSeed, 1, 8), now), std::nullopt);
  EXPECT_EQ(matchStep(kRfcSeed, " " + code.substr(1), now), std::nullopt);
  EXPECT_EQ(matchStep(kRfcSeed, code + "\n", now), std::nullopt);
  EXPECT_EQ(matchStep(kRfcSeed, "28708a", now), std::nullopt);
  EXPECT_EQ(matchStep(kRfcSeed, "+87082", now), std::nullopt);
  EXPECT_EQ(matchStep(kRfcSeed, std::string("28708\0", 6), now), std::nullopt);
  EXPECT_EQ(matchStep(kRfcSeed, "\xd9\xa2\xd9\xa8\xd9\xa7", now), std::nullopt);  // Arabic digits
  EXPECT_EQ(matchStep(kRfcSeed, "", now), std::nullopt);
}

TEST(OtpauthUri, EncodesLabelAndIssuerExactly) {
  EXPECT_EQ(otpauthUri("Acme Co: Dev", "alice smith@example.com", "JBSWY3DPEHPK3PXP"),
            "otpauth://totp/Acme%20Co%3A%20Dev:alice%20smith%40example.com"
            "?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20Co%3A%20Dev&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(otpauthUri("Gatehouse", "a:b@c.d", "MZXW6YTBOI"),
            "otpauth://totp/Gatehouse:a%3Ab%40c.d?secret=MZXW6YTBOI&issuer=Gatehouse"
            "&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(otpauthUri("", "bob", "MZXW6YTBOI"),
            "otpauth://totp/bob?secret=MZXW6YTBOI&algorithm=SHA1&digits=6&period=30");
  // Non-ASCII is percent-encoded as UTF-8 bytes; unreserved marks pass.
  EXPECT_EQ(otpauthUri("G\xc3\xa4te-_.~", "x", "AA"),
            "otpauth://totp/G%C3%A4te-_.~:x?secret=AA&issuer=G%C3%A4te-_.~"
            "&algorithm=SHA1&digits=6&period=30");
}

TEST(NewTotpSecret, IsTwentyFreshBytes) {
  const auto a = newTotpSecret();
  const auto b = newTotpSecret();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->size(), kTotpSecretBytes);
  EXPECT_NE(*a, *b);
}

// Runs `command` through the shell and returns its standard output without the trailing
// newline; nullopt when it cannot start or exits non-zero.
std::optional<std::string> run(const std::string& command) {
  struct Closer {
    int* status;
    void operator()(FILE* f) const { *status = pclose(f); }
  };
  int status = -1;
  std::string out;
  {
    // The commands are fixed text plus base32 and digits, nothing the shell would interpret.
    const std::unique_ptr<FILE, Closer> pipe(popen(command.c_str(), "r"),  // NOLINT(cert-env33-c)
                                             Closer{&status});
    if (!pipe) return std::nullopt;
    std::array<char, 256> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr) out += buffer.data();
  }
  if (status != 0) return std::nullopt;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// Three random secrets at random instants (0 .. 2^32 s), so a disagreement in the counter
// encoding or the truncation would show.
struct Sample {
  std::string secret;
  std::string base32;
  std::int64_t time;
};
std::vector<Sample> randomSamples() {
  std::vector<Sample> samples;
  for (int i = 0; i < 3; ++i) {
    const std::string secret = newTotpSecret().value();
    const std::string t = crypto::randomBytes(4).value();
    std::int64_t time = 0;
    for (const char c : t) time = (time << 8) | static_cast<unsigned char>(c);
    samples.push_back({secret, base32Encode(secret), time});
  }
  return samples;
}

TEST(TotpCode, AgreesWithOathtool) {
  if (!std::filesystem::exists("/usr/bin/oathtool")) GTEST_SKIP() << "oathtool not installed";
  for (const auto& s : randomSamples()) {
    const auto theirs = run("/usr/bin/oathtool --totp -b " + s.base32 + " -N @" +
                            std::to_string(s.time) + " 2>/dev/null");
    ASSERT_TRUE(theirs) << "oathtool failed for " << s.base32;
    EXPECT_EQ(totpCode(s.secret, stepAt(s.time)), *theirs) << s.base32 << " @" << s.time;
    EXPECT_EQ(matchStep(s.secret, *theirs, s.time), stepAt(s.time));
  }
}

TEST(TotpCode, AgreesWithPyotp) {
  if (!run("/usr/bin/python3 -c 'import pyotp' 2>/dev/null")) GTEST_SKIP() << "pyotp missing";
  for (const auto& s : randomSamples()) {
    const auto theirs = run(R"(/usr/bin/python3 -c 'import pyotp; print(pyotp.TOTP(")" + s.base32 +
                            R"(").at()" + std::to_string(s.time) + "))'");
    ASSERT_TRUE(theirs) << "pyotp failed for " << s.base32;
    EXPECT_EQ(totpCode(s.secret, stepAt(s.time)), *theirs) << s.base32 << " @" << s.time;
  }
}

TEST(OtpauthUri, SecretRoundTripsThroughPyotp) {
  if (!run("/usr/bin/python3 -c 'import pyotp' 2>/dev/null")) GTEST_SKIP() << "pyotp missing";
  const std::string secret = newTotpSecret().value();
  const std::string uri = otpauthUri("Gate house", "a:b@example.com", base32Encode(secret));
  const auto theirs = run(R"(/usr/bin/python3 -c 'import pyotp; t = pyotp.parse_uri(")" + uri +
                          R"("); print(t.issuer, t.name, t.at(1111111111), sep="|")')");
  ASSERT_TRUE(theirs) << uri;
  EXPECT_EQ(*theirs, "Gate house|a:b@example.com|" + totpCode(secret, stepAt(1111111111)));
}

}  // namespace
}  // namespace gatehouse::mfa
