#include "password/password_hasher.hpp"

#include <chrono>
#include <future>

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace gatehouse::password {
namespace {

PasswordHasher bcryptHasher(int cost = 10) {
  return PasswordHasher::create({.scheme = Scheme::Bcrypt, .bcrypt_cost = cost}).value();
}

TEST(PasswordHasher, RefusesWeakPolicies) {
  EXPECT_FALSE(PasswordHasher::create({.scheme = Scheme::Bcrypt, .bcrypt_cost = 9}));
  EXPECT_FALSE(
      PasswordHasher::create({.scheme = Scheme::Argon2id, .argon2 = {.memory_kib = 4096}}));
  EXPECT_FALSE(PasswordHasher::create({.scheme = Scheme::Argon2id, .argon2 = {.iterations = 1}}));
}

TEST(PasswordHasher, VerifiesEveryFixtureFromPythonLibraries) {
  const auto hasher = bcryptHasher();
  const auto fixtures = testing::readJson(testing::testdataDir() / "password_fixtures.json");
  int checked = 0;
  for (const auto& f : fixtures.as_array()) {
    const std::string pw(f.at("password").as_string());
    const std::string hash(f.at("hash").as_string());
    EXPECT_TRUE(hasher.verify(pw, hash)) << f.at("source").as_string() << " " << hash;
    EXPECT_FALSE(hasher.verify(pw + "!", hash)) << f.at("source").as_string();
    ++checked;
  }
  EXPECT_GE(checked, 21);
}

TEST(PasswordHasher, SeventyThreeBytePasswordDoesNotLogIn) {
  const auto hasher = bcryptHasher();
  const std::string stored(72, 'p');
  const std::string hash = hasher.hash(stored).value();
  // Differs only in byte 73.
  EXPECT_FALSE(hasher.verify(stored + "X", hash));
  auto refused = hasher.acceptable(stored + "X");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("72 bytes"), std::string::npos);
  EXPECT_FALSE(hasher.hash(stored + "X"));
}

TEST(PasswordHasher, Argon2SchemeAcceptsLongPasswords) {
  const auto hasher = PasswordHasher::create({.scheme = Scheme::Argon2id}).value();
  const std::string long_pw(200, 'q');
  const std::string hash = hasher.hash(long_pw).value();
  EXPECT_TRUE(hasher.verify(long_pw, hash));
  EXPECT_FALSE(hasher.verify(long_pw.substr(0, 199), hash));
  EXPECT_FALSE(hasher.acceptable(std::string(kMaxPasswordBytes + 1, 'q')));
}

TEST(PasswordHasher, NeedsRehashFollowsPolicy) {
  const auto bc12 = bcryptHasher(12);
  EXPECT_TRUE(bc12.needsRehash("$2b$10$abcdefghijklmnopqrstuu5Qq2yvTOQdZ8zAq7Dw3H7nW7m8Y3CzC"));
  EXPECT_FALSE(bc12.needsRehash("$2b$12$abcdefghijklmnopqrstuu5Qq2yvTOQdZ8zAq7Dw3H7nW7m8Y3CzC"));
  EXPECT_FALSE(bc12.needsRehash("$2y$13$abcdefghijklmnopqrstuu5Qq2yvTOQdZ8zAq7Dw3H7nW7m8Y3CzC"));
  EXPECT_TRUE(bc12.needsRehash("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$aGFzaA"));
  const auto a = PasswordHasher::create(
                     {.scheme = Scheme::Argon2id, .argon2 = {.memory_kib = 65536, .iterations = 3}})
                     .value();
  EXPECT_TRUE(a.needsRehash("$2b$12$abcdefghijklmnopqrstuu5Qq2yvTOQdZ8zAq7Dw3H7nW7m8Y3CzC"));
  EXPECT_TRUE(a.needsRehash("$argon2id$v=19$m=19456,t=3,p=1$c29tZXNhbHQ$aGFzaA"));
  EXPECT_TRUE(a.needsRehash("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaA"));
  EXPECT_FALSE(a.needsRehash("$argon2id$v=19$m=102400,t=3,p=8$c29tZXNhbHQ$aGFzaA"));
}

TEST(PasswordHasher, OnlyHashesFarDearerThanThePolicysAreDear) {
  // Found by an outside attack: imported hashes within the import bounds (1 GiB x 4 argon2) held
  // every hashing thread; such hashes are checked apart (PasswordHasher::dear). Eight times the
  // policy's argon2 (19 MiB x 2 by default: 155,648 KiB, 311,296 KiB-passes), four lanes.
  const auto bc12 = bcryptHasher(12);
  const std::string salt = "$c29tZXNhbHQ$aGFzaA";
  EXPECT_TRUE(bc12.dear("$argon2id$v=19$m=1048576,t=4,p=1" + salt));  // the attack's
  EXPECT_TRUE(bc12.dear("$argon2id$v=19$m=262144,t=4,p=1" + salt));   // a review's "under"
  EXPECT_TRUE(bc12.dear("$argon2id$v=19$m=155649,t=1,p=1" + salt));   // memory
  EXPECT_TRUE(bc12.dear("$argon2id$v=19$m=77825,t=4,p=1" + salt));    // memory x passes
  EXPECT_TRUE(bc12.dear("$argon2id$v=19$m=19456,t=2,p=5" + salt));    // lanes
  EXPECT_FALSE(bc12.dear("$argon2id$v=19$m=155648,t=2,p=4" + salt));  // exactly each
  EXPECT_FALSE(bc12.dear("$argon2id$v=19$m=65536,t=3,p=4" + salt));   // Authelia's, RFC 9106's
  EXPECT_FALSE(bc12.dear("$argon2id$v=19$m=19456,t=2,p=1" + salt));   // the policy's
  EXPECT_TRUE(bc12.dear("$argon2i$v=19$m=1048576,t=4,p=1" + salt));   // argon2i alike
  EXPECT_TRUE(bc12.dear("$2b$15$abcdefghijklmnopqrstuu5Qq2yvTOQdZ8zAq7Dw3H7nW7m8Y3CzC"));
  EXPECT_FALSE(bc12.dear("$2b$14$abcdefghijklmnopqrstuu5Qq2yvTOQdZ8zAq7Dw3H7nW7m8Y3CzC"));
  EXPECT_FALSE(
      bcryptHasher(10).dear("$2y$14$abcdefghijklmnopqrstuu5Qq2yvTOQdZ8zAq7Dw3H7nW7m8Y3CzC"));
  EXPECT_TRUE(
      bcryptHasher(10).dear("$2y$15$abcdefghijklmnopqrstuu5Qq2yvTOQdZ8zAq7Dw3H7nW7m8Y3CzC"));
  EXPECT_FALSE(
      bcryptHasher(13).dear("$2b$15$abcdefghijklmnopqrstuu5Qq2yvTOQdZ8zAq7Dw3H7nW7m8Y3CzC"));
  // PBKDF2: iterations times blocks (two SHA-256 blocks for a 64-byte key).
  const std::string key64(86, 'A');
  EXPECT_TRUE(bc12.dear("$pbkdf2-sha256$1000001$c2FsdHNhbHQ$" + key64));
  EXPECT_FALSE(bc12.dear("$pbkdf2-sha256$1000000$c2FsdHNhbHQ$" + key64));
  EXPECT_FALSE(bc12.dear("$pbkdf2-sha256$600000$c2FsdHNhbHQ$" + std::string(43, 'A')));
  // A policy that makes dear hashes itself: its own are not.
  const auto big = PasswordHasher::create({.scheme = Scheme::Argon2id,
                                           .argon2 = {.memory_kib = 524288, .iterations = 3}})
                       .value();
  EXPECT_FALSE(big.dear("$argon2id$v=19$m=1048576,t=4,p=1" + salt));
  EXPECT_FALSE(bc12.dear(""));
  EXPECT_FALSE(bc12.dear("$1$abc$def"));
}

TEST(PasswordHasher, UnknownFormatsNeverVerify) {
  const auto hasher = bcryptHasher();
  EXPECT_FALSE(hasher.verify("pw", ""));
  EXPECT_FALSE(hasher.verify("pw", "pw"));
  EXPECT_FALSE(hasher.verify("pw", "$1$abc$def"));
}

TEST(PasswordHasher, DummyVerifyCostsAFullHash) {
  // Not a timing assertion (those belong in bench/): the dummy must do a real bcrypt at the
  // policy cost, which takes at least as long as cost 10 needs on any machine (> 1 ms).
  const auto hasher = bcryptHasher(10);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(hasher.verifyDummy("whatever"));
  const auto spent = std::chrono::steady_clock::now() - start;
  EXPECT_GT(spent, std::chrono::milliseconds(1));
}

TEST(PasswordHasher, AFailedCheckOfACheaperHashLastsAsLongAsAPolicyCheck) {
  // An enumeration attack: after BCRYPT_ROUNDS went from 10 to 12, a wrong password for an
  // account still holding a cost-10 hash answered in a quarter of the time an unknown user's
  // did. Not a timing assertion on the machine: the wait is to the average the hasher itself
  // measured, read before the check and not changed by it.
  const auto hasher = bcryptHasher(11);
  const std::string cheap = bcryptHasher(10).hash("Passw0rd!x").value();
  // Before anything was measured, the check is one under the policy: measured then.
  EXPECT_EQ(hasher.policyCheckTime().count(), 0);
  EXPECT_FALSE(hasher.verify("wrong", cheap));
  EXPECT_GT(hasher.policyCheckTime().count(), 0);
  for (int i = 0; i < 3; ++i) (void)hasher.verifyDummy("whatever");
  for (int i = 0; i < 3; ++i) {
    const auto floor = hasher.policyCheckTime();
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(hasher.verify("wrong", cheap));
    EXPECT_GE(std::chrono::steady_clock::now() - start, floor) << i;
    EXPECT_EQ(hasher.policyCheckTime(), floor) << "a cheaper hash's check is not the policy's";
  }
  // The right password is not held back (the login then stores a hash under the policy), and a
  // hash under the policy is measured, not padded.
  EXPECT_TRUE(hasher.verify("Passw0rd!x", cheap));
  const std::string current = hasher.hash("Passw0rd!x").value();
  const auto before = hasher.policyCheckTime();
  EXPECT_FALSE(hasher.verify("wrong", current));
  EXPECT_NE(hasher.policyCheckTime(), before);
}

TEST(PasswordHasher, MadeUnderAcceptsOnlyTheFormAHashTakesNow) {
  const HashPolicy cost10{.scheme = Scheme::Bcrypt, .bcrypt_cost = 10};
  const std::string hash = bcryptHasher(10).hash("anything").value();
  EXPECT_TRUE(PasswordHasher::madeUnder(cost10, hash));
  EXPECT_FALSE(PasswordHasher::madeUnder({.scheme = Scheme::Bcrypt, .bcrypt_cost = 11}, hash));
  EXPECT_FALSE(PasswordHasher::madeUnder(cost10, "$2a$" + hash.substr(4)));
  std::string bad_char = hash;
  bad_char[30] = '*';  // crypt() refuses it at once: a check that costs nothing
  EXPECT_FALSE(PasswordHasher::madeUnder(cost10, bad_char));
  EXPECT_FALSE(PasswordHasher::madeUnder(cost10, hash.substr(0, 59)));
  EXPECT_FALSE(PasswordHasher::madeUnder(cost10, hash + "\n"));
  EXPECT_FALSE(PasswordHasher::madeUnder(cost10, ""));

  const HashPolicy argon{.scheme = Scheme::Argon2id};
  const std::string a = PasswordHasher::create(argon).value().hash("anything").value();
  EXPECT_TRUE(PasswordHasher::madeUnder(argon, a));
  EXPECT_FALSE(PasswordHasher::madeUnder(argon, hash));
  EXPECT_FALSE(PasswordHasher::madeUnder(
      {.scheme = Scheme::Argon2id, .argon2 = {.memory_kib = argon.argon2.memory_kib * 2}}, a));
  EXPECT_FALSE(PasswordHasher::madeUnder(argon, a.substr(0, a.size() - 1)));
  // Non-zero unused bits in the last character of the salt or of the hash: libargon2 refuses
  // such a string at once, so a dummy like it would make unknown users fast to refuse.
  const std::size_t hash_end = a.size() - 1;
  const std::size_t salt_end = a.rfind('$') - 1;
  for (const std::size_t at : {salt_end, hash_end}) {
    std::string bits = a;
    bits[at] = bits[at] == 'B' ? 'C' : 'B';
    EXPECT_FALSE(PasswordHasher::madeUnder(argon, bits)) << bits;
  }
  EXPECT_FALSE(PasswordHasher::madeUnder(cost10, a));
}

TEST(PasswordHasher, TheDummyHashIsKeptAndAKeptOneIsUsedWithoutHashingAgain) {
  const HashPolicy policy{.scheme = Scheme::Bcrypt, .bcrypt_cost = 10};
  std::promise<std::string> kept;
  auto first =
      PasswordHasher::create(policy, {.keep = [&](const std::string& h) { kept.set_value(h); }});
  ASSERT_TRUE(first);
  const std::string made = kept.get_future().get();
  EXPECT_TRUE(PasswordHasher::madeUnder(policy, made));

  int kept_again = 0;
  auto second = PasswordHasher::create(
      policy, {.stored = made, .keep = [&](const std::string&) { ++kept_again; }});
  ASSERT_TRUE(second);
  // The kept hash still costs a full bcrypt to check against (see DummyVerifyCostsAFullHash).
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(second->verifyDummy("whatever"));
  EXPECT_GT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1));
  EXPECT_EQ(kept_again, 0);
}

TEST(PasswordHasher, AKeptDummyFromACheaperPolicyIsMadeAgain) {
  const std::string cheap = bcryptHasher(10).hash("anything").value();
  const HashPolicy policy{.scheme = Scheme::Bcrypt, .bcrypt_cost = 11};
  std::promise<std::string> kept;
  auto hasher = PasswordHasher::create(
      policy, {.stored = cheap, .keep = [&](const std::string& h) { kept.set_value(h); }});
  ASSERT_TRUE(hasher);
  const std::string made = kept.get_future().get();
  EXPECT_NE(made, cheap);
  EXPECT_TRUE(PasswordHasher::madeUnder(policy, made));
}

}  // namespace
}  // namespace gatehouse::password
