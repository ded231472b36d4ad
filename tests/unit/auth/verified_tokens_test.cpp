#include "auth/verified_tokens.hpp"

#include <chrono>

#include <boost/json/monotonic_resource.hpp>
#include <gtest/gtest.h>

#include "auth/tokens.hpp"
#include "core/clock.hpp"

namespace gatehouse::auth {
namespace {

namespace json = boost::json;

VerifiedTokens::Key key(std::string_view token) { return VerifiedTokens::keyOf(token).value(); }

jose::Claims claimsFor(std::string sub) {
  jose::Claims c;
  c.sub = std::move(sub);
  c.exp = 2'000'000'000;
  c.jti = "jti-" + c.sub;
  c.raw["sub"] = c.sub;
  return c;
}

TEST(VerifiedTokens, OnlyTheExactBytesVerifiedBeforeHit) {
  const VerifiedTokens cache;
  const std::string token = "aaaa.bbbb.cccc";
  cache.remember(key(token), claimsFor("7"));
  const auto hit = cache.find(key(token));
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->sub, "7");
  EXPECT_EQ(hit->raw.at("sub").as_string(), "7");
  for (const std::string other : {"aaaa.bbbb.cccd", "aaaa.bbbb.ccc", "aaaa.bbbb.cccc ", ""})
    EXPECT_EQ(cache.find(key(other)), nullptr) << other;
}

TEST(VerifiedTokens, StaysWithinTwoGenerationsOfItsCapacity) {
  const VerifiedTokens cache(3);
  for (int i = 0; i < 10; ++i) {
    cache.remember(key("token-" + std::to_string(i)), claimsFor(std::to_string(i)));
    EXPECT_LE(cache.size(), 6U);
  }
  // The newest generation and the one before still hit; older ones are gone.
  EXPECT_NE(cache.find(key("token-9")), nullptr);
  EXPECT_NE(cache.find(key("token-6")), nullptr);
  EXPECT_EQ(cache.find(key("token-2")), nullptr);
  cache.forget(key("token-9"));
  EXPECT_EQ(cache.find(key("token-9")), nullptr);
  cache.retire();
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.find(key("token-6")), nullptr);
  // A request still under the retired keys remembers nothing more.
  cache.remember(key("late"), claimsFor("late"));
  EXPECT_EQ(cache.find(key("late")), nullptr);
}

TEST(VerifiedTokens, KeptClaimsOutliveTheParseArena) {
  const VerifiedTokens cache;
  {
    // As checkClaims leaves them: `raw` in a monotonic arena that dies with the last copy.
    jose::Claims parsed = claimsFor("9");
    parsed.raw = json::object(json::make_shared_resource<json::monotonic_resource>());
    parsed.raw["scope"] = "a long string that does not fit in the small-string buffer";
    const auto kept = cache.remember(key("tok"), std::move(parsed));
    EXPECT_EQ(*kept->raw.storage(), *json::storage_ptr());
  }
  const auto hit = cache.find(key("tok"));
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->raw.at("scope").as_string(),
            "a long string that does not fit in the small-string buffer");
  EXPECT_EQ(*hit->raw.storage(), *json::storage_ptr());  // plain memory: copies are thread-safe
}

TEST(VerifiedTokens, ATokenServiceHitStillExpiresAndARotationForgetsEverything) {
  core::ManualClock clock(1'800'000'000);
  const auto key = jose::Key::hmac(jose::Algorithm::Hs256, std::string(32, 'k'), "hs1").value();
  TokenService tokens(key, jose::KeySet::create({key}).value(), {}, clock);
  const auto pair = tokens.issue(7, {"users:read"}, "sid", "rjti").value();
  const auto first = tokens.verifyAccessShared(pair.access_token);  // verified, then kept
  ASSERT_TRUE(first);
  EXPECT_EQ(tokens.verifiedTokens().size(), 1U);
  EXPECT_EQ(tokens.verifiedTokens().hits(), 0U);
  // What a miss hands out is already out of the parse arena: other threads will share it.
  EXPECT_EQ(*(*first)->raw.storage(), *json::storage_ptr());
  const auto again = tokens.verifyAccess(pair.access_token);
  ASSERT_TRUE(again);
  EXPECT_EQ(tokens.verifiedTokens().hits(), 1U);  // answered from the cache
  EXPECT_EQ(again->sub, "7");
  EXPECT_EQ(again->scopes, std::vector<std::string>{"users:read"});
  // A hit shares the kept claims, the very object the miss returned: the request copies nothing.
  EXPECT_EQ(tokens.verifyAccessShared(pair.access_token)->get(), first->get());
  EXPECT_EQ(tokens.verifiedTokens().hits(), 2U);
  // A token one byte away from a kept one is checked in full, and fails.
  std::string forged = pair.access_token;
  char& c = forged[forged.size() - 10];  // inside the signature, where every bit counts
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(tokens.verifyAccess(forged).error(), jose::JwtError::BadSignature);
  // Time is checked again at every hit, both ways: issued in the future, then expired.
  clock.advance(-1);
  EXPECT_EQ(tokens.verifyAccess(pair.access_token).error(), jose::JwtError::IssuedInFuture);
  clock.advance(1 + 1800);
  EXPECT_EQ(tokens.verifyAccess(pair.access_token).error(), jose::JwtError::Expired);
  EXPECT_EQ(tokens.verifiedTokens().size(), 0U);  // an expired token is forgotten
  clock.advance(-1800);
  ASSERT_TRUE(tokens.verifyAccess(pair.access_token));
  // New keys without the old one: what was verified under the old keys is forgotten.
  const auto other = jose::Key::hmac(jose::Algorithm::Hs256, std::string(32, 'o'), "hs2").value();
  tokens.setKeys(other, jose::KeySet::create({other}).value());
  EXPECT_EQ(tokens.verifyAccess(pair.access_token).error(), jose::JwtError::UnknownKey);
  EXPECT_EQ(tokens.verifiedTokens().hits(), 0U);
}

TEST(VerifiedTokens, RefusedTokensAreNeverKept) {
  // Junk, forgeries and oversized tokens cost a check each and leave no entry behind.
  core::ManualClock clock(1'800'000'000);
  const auto key = jose::Key::hmac(jose::Algorithm::Hs256, std::string(32, 'k'), "hs1").value();
  TokenService tokens(key, jose::KeySet::create({key}).value(), {}, clock);
  const auto pair = tokens.issue(7, {}, "sid", "rjti").value();
  for (int i = 0; i < 200; ++i) {
    std::string forged = pair.access_token;
    forged[forged.size() - 1 - (i % 40)] ^= 1;
    EXPECT_FALSE(tokens.verifyAccessShared(forged));
    EXPECT_FALSE(tokens.verifyAccessShared("junk-" + std::to_string(i)));
  }
  EXPECT_FALSE(tokens.verifyAccessShared(std::string(tokens.settings().max_token_bytes + 1, 'a')));
  EXPECT_FALSE(tokens.verifyAccessShared(pair.refresh_token));
  EXPECT_EQ(tokens.verifiedTokens().size(), 0U);
  clock.advance(3600);  // expired before it was ever checked
  EXPECT_EQ(tokens.verifyAccessShared(pair.access_token).error(), jose::JwtError::Expired);
  EXPECT_EQ(tokens.verifiedTokens().size(), 0U);
}

TEST(VerifiedTokens, CheckTimesAgreesWithCheckClaims) {
  // Every time around exp, nbf and iat, with and without leeway: a hit answers as a full parse.
  const std::string payload = R"({"exp":1000,"nbf":900,"iat":950,"sub":"1","type":"access"})";
  for (const int leeway : {0, 5}) {
    const jose::ClaimsPolicy policy{.leeway = std::chrono::seconds(leeway)};
    const auto claims = jose::checkClaims(payload, policy, 960).value();
    for (std::int64_t now = 880; now <= 1010; ++now) {
      const auto full = jose::checkClaims(payload, policy, now);
      const auto times = jose::checkTimes(claims, policy, now);
      ASSERT_EQ(full.has_value(), times.has_value()) << now << " leeway " << leeway;
      if (!full) {
        EXPECT_EQ(full.error(), times.error()) << now;
      }
    }
  }
}

}  // namespace
}  // namespace gatehouse::auth
