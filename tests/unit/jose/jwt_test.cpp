#include "jose/jwt.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/base64url.hpp"

namespace gatehouse::jose {
namespace {

namespace json = boost::json;
constexpr std::int64_t kNow = 1'800'000'000;

Key key() { return Key::hmac(Algorithm::Hs256, std::string(32, 'k'), "k").value(); }

std::string tokenWith(std::string_view claims) { return signJws(key(), claims).value(); }

tl::expected<Claims, JwtError> check(std::string_view claims, ClaimsPolicy policy = {}) {
  core::ManualClock clock(kNow);
  JwtVerifier verifier(KeySet::create({key()}).value(), std::move(policy), clock);
  return verifier.verify(tokenWith(claims));
}

TEST(JwtVerifier, AcceptsValidAccessToken) {
  auto c = check(R"({"sub":"7","exp":1800000100,"iat":1800000000,"type":"access","jti":"j",
                    "scopes":["users:read","posts:write"],"iss":"gh"})",
                 {.issuer = "gh", .type = "access"});
  ASSERT_TRUE(c) << jwtErrorName(c.error());
  EXPECT_EQ(c->sub, "7");
  EXPECT_EQ(c->exp, 1'800'000'100);
  EXPECT_EQ(c->scopes, (std::vector<std::string>{"users:read", "posts:write"}));
  EXPECT_EQ(c->jti, "j");
}

TEST(JwtVerifier, RequiresAndChecksExp) {
  EXPECT_EQ(check(R"({"sub":"1"})").error(), JwtError::MissingClaim);
  EXPECT_EQ(check(R"({"exp":1800000000})").error(), JwtError::Expired);
  EXPECT_EQ(check(R"({"exp":1799999999})").error(), JwtError::Expired);
  EXPECT_TRUE(check(R"({"exp":1800000001})"));
  EXPECT_TRUE(check(R"({"exp":1799999990})", {.leeway = std::chrono::seconds(30)}));
}

TEST(JwtVerifier, ChecksNbfAndIat) {
  EXPECT_EQ(check(R"({"exp":1900000000,"nbf":1800000060})").error(), JwtError::NotYetValid);
  EXPECT_TRUE(check(R"({"exp":1900000000,"nbf":1800000000})"));
  EXPECT_EQ(check(R"({"exp":1900000000,"iat":1800000060})").error(), JwtError::IssuedInFuture);
  EXPECT_TRUE(
      check(R"({"exp":1900000000,"iat":1800000060})", {.leeway = std::chrono::seconds(60)}));
}

TEST(JwtVerifier, ChecksIssuerAudienceAndType) {
  EXPECT_EQ(check(R"({"exp":1900000000,"iss":"x"})", {.issuer = "gh"}).error(),
            JwtError::BadIssuer);
  EXPECT_EQ(check(R"({"exp":1900000000})", {.issuer = "gh"}).error(), JwtError::BadIssuer);
  EXPECT_EQ(check(R"({"exp":1900000000,"aud":"other"})", {.audience = "api"}).error(),
            JwtError::BadAudience);
  EXPECT_TRUE(check(R"({"exp":1900000000,"aud":["other","api"]})", {.audience = "api"}));
  EXPECT_TRUE(check(R"({"exp":1900000000,"aud":"api"})", {.audience = "api"}));
  EXPECT_EQ(check(R"({"exp":1900000000})", {.audience = "api"}).error(), JwtError::BadAudience);
  EXPECT_EQ(check(R"({"exp":1900000000,"type":"refresh"})", {.type = "access"}).error(),
            JwtError::BadType);
}

TEST(JwtVerifier, TypeOverloadChecksRequestedType) {
  core::ManualClock clock(kNow);
  JwtVerifier verifier(KeySet::create({key()}).value(), {.type = "access"}, clock);
  const std::string refresh = tokenWith(R"({"exp":1900000000,"type":"refresh"})");
  EXPECT_EQ(verifier.verify(refresh).error(), JwtError::BadType);
  EXPECT_TRUE(verifier.verify(refresh, "refresh"));
}

TEST(JwtVerifier, UsesInjectedClock) {
  core::ManualClock clock(kNow);
  JwtVerifier verifier(KeySet::create({key()}).value(), {}, clock);
  const std::string token = tokenWith(R"({"exp":1800000100})");
  EXPECT_TRUE(verifier.verify(token));
  clock.advance(100);
  EXPECT_EQ(verifier.verify(token).error(), JwtError::Expired);
}

TEST(JwtVerifier, RejectsNonObjectAndBadClaimTypes) {
  EXPECT_EQ(check(R"([1,2])").error(), JwtError::Malformed);
  EXPECT_EQ(check(R"("s")").error(), JwtError::Malformed);
  EXPECT_EQ(check("").error(), JwtError::BadJson);
  EXPECT_EQ(check(R"({"exp":1900000000,"exp":1})").error(), JwtError::BadJson);
  EXPECT_EQ(check(R"({"exp":1900000000,"sub":5})").error(), JwtError::BadClaim);
  EXPECT_EQ(check(R"({"exp":1900000000,"scopes":"users:read"})").error(), JwtError::BadClaim);
  EXPECT_EQ(check(R"({"exp":1900000000,"scopes":[1]})").error(), JwtError::BadClaim);
}

TEST(NumericDate, AcceptsNumbersInRangeOnly) {
  EXPECT_EQ(parseNumericDate(json::value(1700000000)).value(), 1700000000);
  EXPECT_EQ(parseNumericDate(json::value(1700000000.9)).value(), 1700000000);
  EXPECT_EQ(parseNumericDate(json::value(std::uint64_t{253402300799})).value(), 253402300799);
  EXPECT_FALSE(parseNumericDate(json::value("1700000000")));
  EXPECT_FALSE(parseNumericDate(json::value(true)));
  EXPECT_FALSE(parseNumericDate(json::value(nullptr)));
  EXPECT_FALSE(parseNumericDate(json::value(-1)));
  EXPECT_FALSE(parseNumericDate(json::value(253402300800)));
  EXPECT_FALSE(parseNumericDate(json::value(std::uint64_t{18446744073709551615ULL})));
  EXPECT_FALSE(parseNumericDate(json::value(1e300)));
  EXPECT_FALSE(parseNumericDate(json::value(std::numeric_limits<double>::quiet_NaN())));
  EXPECT_FALSE(parseNumericDate(json::value(std::numeric_limits<double>::infinity())));
  EXPECT_FALSE(parseNumericDate(json::value(-0.5)));
}

TEST(JwtVerifier, RejectsHugeExponentInJson) {
  // Boost.JSON reads 1e400 as infinity; the NumericDate range check refuses it.
  EXPECT_EQ(check(R"({"exp":1e400})").error(), JwtError::BadClaim);
  EXPECT_EQ(check(R"({"exp":-1e400})").error(), JwtError::BadClaim);
  EXPECT_EQ(check(R"({"exp":"1900000000"})").error(), JwtError::BadClaim);
}

}  // namespace
}  // namespace gatehouse::jose
