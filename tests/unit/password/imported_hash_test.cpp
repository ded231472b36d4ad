// Hashes made by other systems (tests/unit/password/vectors/imported_hashes.json, written by
// make_vectors.py with passlib, Django, argon2-cffi and Keycloak's PBKDF2 rules): verify() says
// exactly what each vector expects, whatever the policy; needsRehash() asks for a fresh hash for
// every imported format; keycloakToEncoded() turns a Keycloak credential, also straight from a
// realm export, into the passlib-style string the importer stores, and refuses what could never
// be verified (iterations outside 1..2,000,000, unknown algorithms, bad base64, empty values).
#include "password/imported_hash.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include "core/base64url.hpp"
#include "password/argon2.hpp"
#include "password/password_hasher.hpp"
#include "support/vectors.hpp"

namespace gatehouse::password {
namespace {

namespace json = boost::json;

const json::object& vectorFile() {
  // Beside this test: tests/unit/password/vectors (testdataDir() is tests/testdata).
  static const json::value file =
      testing::readJson(testing::testdataDir().parent_path() / "unit" / "password" / "vectors" /
                        "imported_hashes.json");
  return file.as_object();
}

std::string text(const json::object& o, std::string_view key) {
  return std::string(o.at(key).as_string());
}

std::vector<json::object> vectorsOf(std::string_view group) {
  std::vector<json::object> out;
  for (const auto& v : vectorFile().at("vectors").as_array()) {
    if (v.at("group").as_string() == group) out.push_back(v.as_object());
  }
  return out;
}

core::Result<std::string> fromKeycloak(const json::object& credential) {
  return keycloakToEncoded(text(credential, "algorithm"),
                           credential.at("hashIterations").to_number<std::int64_t>(),
                           text(credential, "salt"), text(credential, "value"));
}

// What the importer stores for a vector: its `encoded` string, or the converted Keycloak
// credential (which must convert to exactly the string make_vectors.py computed).
std::optional<std::string> storedForm(const json::object& v) {
  if (const auto* encoded = v.if_contains("encoded")) return std::string(encoded->as_string());
  auto converted = fromKeycloak(v.at("keycloak").as_object());
  EXPECT_TRUE(converted) << text(v, "id") << ": " << converted.error().message;
  if (!converted) return std::nullopt;
  EXPECT_EQ(*converted, text(v, "expect_encoded")) << text(v, "id");
  return *converted;
}

PasswordHasher bcryptHasher() {
  return PasswordHasher::create({.scheme = Scheme::Bcrypt, .bcrypt_cost = 10}).value();
}

PasswordHasher argon2Hasher() {
  return PasswordHasher::create({.scheme = Scheme::Argon2id}).value();
}

// Each vector of `group` verifies as it says; returns how many were checked.
int checkGroup(const PasswordHasher& hasher, std::string_view group) {
  int checked = 0;
  for (const auto& v : vectorsOf(group)) {
    const auto stored = storedForm(v);
    if (!stored) continue;
    const bool expect = v.at("expect").as_bool();
    EXPECT_EQ(hasher.verify(text(v, "password"), *stored), expect)
        << text(v, "id") << " (" << text(v, "note") << "): " << *stored;
    ++checked;
  }
  return checked;
}

// Found by an outside attack: an imported bcrypt hash of cost 31 (about a day per check) let two
// sign-in attempts on that account hold every hashing thread.
TEST(ImportedHash, WorkBeyondTheImportBoundsIsNeitherImportedNorChecked) {
  EXPECT_TRUE(argon2WithinImportBounds({.memory_kib = 1U << 20U, .iterations = 4}));
  EXPECT_FALSE(argon2WithinImportBounds({.memory_kib = 1U << 20U, .iterations = 5}));
  EXPECT_FALSE(argon2WithinImportBounds({.memory_kib = (1U << 20U) + 1, .iterations = 1}));
  EXPECT_TRUE(argon2WithinImportBounds({.memory_kib = 65536, .iterations = 64, .parallelism = 64}));
  EXPECT_FALSE(argon2WithinImportBounds({.memory_kib = 8192, .iterations = 65}));
  EXPECT_FALSE(argon2WithinImportBounds({.memory_kib = 65536, .parallelism = 65}));
  // A real cost-17 bcrypt hash of "correct horse" (python3-bcrypt): above the bound, so it is not
  // checked and never verifies, under either scheme's policy.
  constexpr std::string_view kCost17 =
      "$2b$17$3NE2V4T8Nugw2KIG7AJZUu6xx9LobOEZdBz/Rgn./7tSA5qAKq8zC";
  EXPECT_FALSE(bcryptHasher().verify("correct horse", kCost17));
  EXPECT_FALSE(argon2Hasher().verify("correct horse", kCost17));
  // One of cost 31 answers at once as well.
  EXPECT_FALSE(bcryptHasher().verify("x", "$2b$31$" + std::string(53, 'a')));
  // An argon2id hash beyond the bounds (65 passes) is checked where the policy makes hashes as
  // costly, not elsewhere.
  const auto beyond = argon2idHash("correct horse", {.memory_kib = 8, .iterations = 65});
  ASSERT_TRUE(beyond) << beyond.error().message;
  EXPECT_FALSE(argon2Hasher().verify("correct horse", *beyond));
  const auto costly = PasswordHasher::create(
      {.scheme = Scheme::Argon2id, .argon2 = {.memory_kib = 19456, .iterations = 65}});
  ASSERT_TRUE(costly) << costly.error().message;
  EXPECT_TRUE(costly->verify("correct horse", *beyond));
  EXPECT_FALSE(costly->verify("wrong horse", *beyond));
}

TEST(ImportedHash, VectorFileCoversEveryFormat) {
  const std::set<std::string> formats = {"bcrypt-2a",
                                         "bcrypt-2b",
                                         "bcrypt-2y",
                                         "argon2id",
                                         "argon2i",
                                         "passlib-pbkdf2-sha256",
                                         "passlib-pbkdf2-sha512",
                                         "passlib-pbkdf2-sha1",
                                         "django-pbkdf2-sha256",
                                         "django-pbkdf2-sha1",
                                         "keycloak-pbkdf2-sha256",
                                         "keycloak-pbkdf2-sha512",
                                         "keycloak-pbkdf2"};
  std::map<std::string, std::set<bool>> seen;
  for (const auto& v : vectorFile().at("vectors").as_array()) {
    seen[text(v.as_object(), "format")].insert(v.at("expect").as_bool());
  }
  for (const auto& f : formats) {
    EXPECT_EQ(seen[f], (std::set<bool>{false, true})) << f << " needs true and false vectors";
  }
  EXPECT_GE(vectorFile().at("vectors").as_array().size(), 100U);
}

TEST(ImportedHash, VerifiesRealHashesOfEveryFormat) {
  EXPECT_GE(checkGroup(bcryptHasher(), "formats"), 40);
}

TEST(ImportedHash, RefusesTheWrongPassword) {
  // Including a 100-byte password that differs only in its last byte (no truncation).
  EXPECT_GE(checkGroup(bcryptHasher(), "wrong_password"), 18);
}

TEST(ImportedHash, RefusesTamperedHashes) { EXPECT_GE(checkGroup(bcryptHasher(), "tampered"), 28); }

TEST(ImportedHash, RefusesMalformedHashesAndEmptyChecksums) {
  EXPECT_GE(checkGroup(bcryptHasher(), "malformed"), 18);
}

TEST(ImportedHash, EnforcesIterationAndArgon2Limits) {
  // pbkdf2 iterations 1..2,000,000; argon2 m <= 1 GiB, t <= 64, p <= 64. Beyond them even a
  // real hash of the password is refused.
  int genuine_refused = 0;
  for (const auto& v : vectorsOf("limits")) {
    if (const auto* g = v.if_contains("genuine"); g != nullptr && g->as_bool()) ++genuine_refused;
  }
  EXPECT_GE(genuine_refused, 4);
  EXPECT_GE(checkGroup(bcryptHasher(), "limits"), 12);
}

TEST(ImportedHash, RecognisesWellFormedImportedHashesWithinTheLimits) {
  // isImportedHash() decides at import time what can ever be verified: every passlib, Django and
  // argon2i string that is well formed and within the limits (right or wrong password, tampered
  // or not), and nothing malformed or beyond a limit.
  int checked = 0;
  for (const auto& item : vectorFile().at("vectors").as_array()) {
    const auto& v = item.as_object();
    const auto stored = storedForm(v);
    if (!stored || !(stored->starts_with("$pbkdf2") || stored->starts_with("pbkdf2_") ||
                     stored->starts_with("$argon2i$"))) {
      continue;
    }
    const std::string group = text(v, "group");
    const bool well_formed =
        group != "malformed" && !(group == "limits" && !v.at("expect").as_bool());
    EXPECT_EQ(isImportedHash(*stored), well_formed) << text(v, "id") << ": " << *stored;
    ++checked;
  }
  EXPECT_GE(checked, 80);
}

TEST(ImportedHash, VerifyDoesNotDependOnThePolicy) {
  const auto hasher = argon2Hasher();
  std::set<std::string> done;
  for (const auto& v : vectorsOf("formats")) {
    if (!done.insert(text(v, "format")).second) continue;  // one per format is enough here
    const auto stored = storedForm(v);
    ASSERT_TRUE(stored);
    EXPECT_TRUE(hasher.verify(text(v, "password"), *stored)) << text(v, "id");
    EXPECT_FALSE(hasher.verify(text(v, "password") + "x", *stored)) << text(v, "id");
  }
  EXPECT_EQ(done.size(), 13U);
}

TEST(ImportedHash, EveryImportedFormatNeedsRehash) {
  const auto bcrypt10 = bcryptHasher();
  const auto argon2 = argon2Hasher();
  int checked = 0;
  for (const auto& group : {"formats", "limits"}) {
    for (const auto& v : vectorsOf(group)) {
      if (!v.at("expect").as_bool()) continue;
      const auto stored = storedForm(v);
      ASSERT_TRUE(stored);
      EXPECT_EQ(bcrypt10.needsRehash(*stored), v.at("rehash_under_bcrypt10").as_bool())
          << text(v, "id") << ": " << *stored;
      EXPECT_TRUE(argon2.needsRehash(*stored)) << text(v, "id") << ": " << *stored;
      ++checked;
    }
  }
  EXPECT_GE(checked, 45);
  // What the policy itself makes is left alone, so the check above can fail.
  EXPECT_FALSE(bcrypt10.needsRehash(bcrypt10.hash("Correct-Horse-9").value()));
  EXPECT_FALSE(argon2.needsRehash(argon2.hash("Correct-Horse-9").value()));
}

// Found by an outside attack: PBKDF2-SHA1 at the 2,000,000-iteration bound with a 128-byte key
// is seven runs of it (about 5 s a sign-in attempt). The work bound counts each block of the
// digest's size in the derived key: 8,000,000 iterations x blocks, which Keycloak's defaults fit.
TEST(ImportedHash, EachBlockOfTheDerivedKeyCountsAgainstTheWorkBound) {
  const std::string salt = "c29tZXNhbHRzb21lc2FsdA==";  // 16 bytes
  const auto key = [](std::size_t bytes) { return core::base64Encode(std::string(bytes, 'k')); };
  const auto accepted = [&](std::string_view algorithm, std::int64_t iterations,
                            std::size_t bytes) {
    auto encoded = keycloakToEncoded(algorithm, iterations, salt, key(bytes));
    return encoded && isImportedHash(*encoded);
  };
  EXPECT_FALSE(accepted("pbkdf2", 2'000'000, 128));  // SHA-1: 7 blocks, 14,000,000
  EXPECT_TRUE(accepted("pbkdf2", 1'142'857, 128));   // 7,999,999
  EXPECT_FALSE(accepted("pbkdf2", 1'142'858, 128));  // 8,000,006
  EXPECT_TRUE(accepted("pbkdf2", 2'000'000, 80));    // 4 blocks: 8,000,000
  EXPECT_FALSE(accepted("pbkdf2", 2'000'000, 81));   // 5 blocks
  EXPECT_FALSE(accepted("pbkdf2", 2'000'001, 20));   // the iteration bound alone
  // Keycloak's defaults: PBKDF2-SHA1 1,300,000 and PBKDF2-SHA256 600,000 with 64-byte values
  // (4 and 2 blocks), PBKDF2-SHA512 210,000 (1 block).
  EXPECT_TRUE(accepted("pbkdf2", 1'300'000, 64));
  EXPECT_TRUE(accepted("pbkdf2-sha256", 600'000, 64));
  EXPECT_TRUE(accepted("pbkdf2-sha512", 210'000, 64));
  EXPECT_TRUE(accepted("pbkdf2-sha256", 2'000'000, 128));  // 4 blocks
}

TEST(KeycloakToEncoded, WritesThePasslibStyleString) {
  const std::map<std::string, std::string> prefix = {{"pbkdf2-sha256", "$pbkdf2-sha256$"},
                                                     {"pbkdf2-sha512", "$pbkdf2-sha512$"},
                                                     {"pbkdf2", "$pbkdf2$"}};
  int checked = 0;
  for (const auto& v : vectorFile().at("vectors").as_array()) {
    const auto* credential = v.as_object().if_contains("keycloak");
    if (credential == nullptr) continue;
    const auto& c = credential->as_object();
    auto encoded = fromKeycloak(c);
    ASSERT_TRUE(encoded) << text(v.as_object(), "id") << ": " << encoded.error().message;
    EXPECT_EQ(*encoded, text(v.as_object(), "expect_encoded")) << text(v.as_object(), "id");
    const std::string want = prefix.at(text(c, "algorithm")) +
                             std::to_string(c.at("hashIterations").to_number<std::int64_t>()) + "$";
    EXPECT_TRUE(encoded->starts_with(want)) << *encoded;
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST(KeycloakToEncoded, RefusesWhatCouldNeverBeVerified) {
  int checked = 0;
  for (const auto& item : vectorFile().at("keycloak_invalid").as_array()) {
    const auto& o = item.as_object();
    auto encoded = fromKeycloak(o.at("keycloak").as_object());
    EXPECT_FALSE(encoded) << text(o, "id") << " converted to " << encoded.value_or("");
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(KeycloakToEncoded, ConvertsTheCredentialsOfARealmExport) {
  // secretData and credentialData are JSON documents inside JSON strings, as Keycloak exports them.
  const auto& realm = vectorFile().at("keycloak_realm_export").as_object();
  const auto& passwords = vectorFile().at("keycloak_realm_passwords").as_object();
  int checked = 0;
  const auto hasher = bcryptHasher();
  for (const auto& u : realm.at("users").as_array()) {
    const auto& user = u.as_object();
    for (const auto& cred : user.at("credentials").as_array()) {
      const auto& c = cred.as_object();
      if (c.at("type").as_string() != "password") continue;
      const json::value secret = json::parse(c.at("secretData").as_string());
      const json::value data = json::parse(c.at("credentialData").as_string());
      auto encoded = keycloakToEncoded(
          data.at("algorithm").as_string(), data.at("hashIterations").to_number<std::int64_t>(),
          secret.at("salt").as_string(), secret.at("value").as_string());
      ASSERT_TRUE(encoded) << text(user, "username") << ": " << encoded.error().message;
      const std::string password = text(passwords, text(user, "username"));
      EXPECT_TRUE(hasher.verify(password, *encoded)) << text(user, "username") << " " << *encoded;
      EXPECT_FALSE(hasher.verify(password + "1", *encoded)) << text(user, "username");
      EXPECT_TRUE(hasher.needsRehash(*encoded));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
}

}  // namespace
}  // namespace gatehouse::password
