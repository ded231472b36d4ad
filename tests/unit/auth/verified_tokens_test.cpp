#include "auth/verified_tokens.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <gtest/gtest.h>

#include "auth/tokens.hpp"
#include "core/clock.hpp"

namespace gatehouse::auth {
namespace {

namespace json = boost::json;

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
  cache.remember(token, claimsFor("7"));
  const auto hit = cache.find(token);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->sub, "7");
  EXPECT_EQ(hit->raw.at("sub").as_string(), "7");
  for (const std::string other : {"aaaa.bbbb.cccd", "aaaa.bbbb.ccc", "aaaa.bbbb.cccc ", ""})
    EXPECT_EQ(cache.find(other), nullptr) << other;
}

TEST(VerifiedTokens, StaysWithinItsCapacity) {
  const VerifiedTokens cache(3);
  for (int i = 0; i < 10; ++i) {
    cache.remember("token-" + std::to_string(i), claimsFor(std::to_string(i)));
    EXPECT_LE(cache.size(), 3U);
  }
  EXPECT_NE(cache.find("token-9"), nullptr);  // the newest is always kept
  cache.clear();
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.find("token-9"), nullptr);
}

TEST(VerifiedTokens, KeptClaimsOutliveTheParseArena) {
  const VerifiedTokens cache;
  {
    // As checkClaims leaves them: `raw` in a monotonic arena that dies with the last copy.
    jose::Claims parsed = claimsFor("9");
    parsed.raw = json::object(json::make_shared_resource<json::monotonic_resource>());
    parsed.raw["scope"] = "a long string that does not fit in the small-string buffer";
    cache.remember("tok", std::move(parsed));
  }
  const auto hit = cache.find("tok");
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
  ASSERT_TRUE(tokens.verifyAccess(pair.access_token));  // verified, then kept
  const auto again = tokens.verifyAccess(pair.access_token);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->sub, "7");
  EXPECT_EQ(again->scopes, std::vector<std::string>{"users:read"});
  // A token one byte away from a kept one is checked in full, and fails.
  std::string forged = pair.access_token;
  char& c = forged[forged.size() - 10];  // inside the signature, where every bit counts
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(tokens.verifyAccess(forged).error(), jose::JwtError::BadSignature);
  // Time is checked again at every hit.
  clock.advance(1800);
  EXPECT_EQ(tokens.verifyAccess(pair.access_token).error(), jose::JwtError::Expired);
  clock.advance(-1800);
  ASSERT_TRUE(tokens.verifyAccess(pair.access_token));
  // New keys without the old one: what was verified under the old keys is forgotten.
  const auto other = jose::Key::hmac(jose::Algorithm::Hs256, std::string(32, 'o'), "hs2").value();
  tokens.setKeys(other, jose::KeySet::create({other}).value());
  EXPECT_EQ(tokens.verifyAccess(pair.access_token).error(), jose::JwtError::UnknownKey);
  // The size limit comes before any hashing or lookup.
  EXPECT_FALSE(tokens.verifyAccess(std::string(tokens.settings().max_token_bytes + 1, 'a')));
}

}  // namespace
}  // namespace gatehouse::auth
