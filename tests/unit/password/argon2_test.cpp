#include "password/argon2.hpp"

#include <string>

#include <argon2.h>
#include <gtest/gtest.h>

namespace gatehouse::password {
namespace {

TEST(Argon2id, HashesInPhcFormAtOwaspDefaults) {
  auto h = argon2idHash("Correct-Horse-9", {});
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *h;
  EXPECT_TRUE(argon2idVerify("Correct-Horse-9", *h));
  EXPECT_FALSE(argon2idVerify("Correct-Horse-8", *h));
  auto params = argon2idParams(*h);
  ASSERT_TRUE(params);
  EXPECT_EQ(params->memory_kib, 19456U);
  EXPECT_EQ(params->iterations, 2U);
  EXPECT_EQ(params->parallelism, 1U);
}

TEST(Argon2id, ParsesForeignParameters) {
  auto p = argon2idParams("$argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$aGFzaA");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->memory_kib, 102400U);
  EXPECT_EQ(p->parallelism, 8U);
  EXPECT_FALSE(argon2idParams("$argon2i$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$aGFzaA"));
  EXPECT_FALSE(argon2idParams("$argon2id$v=16$m=102400,t=2,p=8$c29tZXNhbHQ$aGFzaA"));
  EXPECT_FALSE(argon2idParams("$argon2id$v=19$m=,t=2,p=8$c29tZXNhbHQ$aGFzaA"));
  EXPECT_FALSE(argon2idParams("$argon2id$v=19$t=2,m=1,p=8$c29tZXNhbHQ$aGFzaA"));
}

TEST(Argon2id, RefusesHostileStoredParameters) {
  // 64 GiB of memory in a stored string must not be attempted.
  EXPECT_FALSE(argon2idVerify("x", "$argon2id$v=19$m=67108864,t=1,p=1$c29tZXNhbHQ$aGFzaA"));
  EXPECT_FALSE(argon2idVerify("x", "garbage"));
}

// Found by an outside attack: an import took these as argon2id hashes ("created"), and the user
// could never sign in with a password. Each is what libargon2 itself refuses before hashing, so no
// password matches it; the parser says so now, and libargon2 agrees string by string.
TEST(Argon2id, AStringNoPasswordCanMatchIsNotAHash) {
  const std::string kSalt = "c29tZXNhbHQ";  // "somesalt": 8 bytes, the least libargon2 takes
  const std::string kHash = "aGFzaA";       // "hash": 4 bytes, the shortest output
  for (const std::string& bad :
       {"$argon2id$v=19$m=0,t=2,p=1$" + kSalt + "$" + kHash,     // no memory
        "$argon2id$v=19$m=1024,t=0,p=1$" + kSalt + "$" + kHash,  // no pass
        "$argon2id$v=19$m=1024,t=2,p=0$" + kSalt + "$" + kHash,  // no lane
        "$argon2id$v=19$m=8,t=2,p=2$" + kSalt + "$" + kHash,     // under 8 KiB a lane
        "$argon2id$v=19$m=1024,t=2,p=1$YQ$" + kHash,             // a 1-byte salt
        "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbA$" + kHash,     // a 7-byte salt
        "$argon2id$v=19$m=1024,t=2,p=1$" + kSalt + "$AA",        // a 1-byte hash
        "$argon2id$v=19$m=1024,t=2,p=1$" + kSalt + "$aGFzaB",    // leftover bits set
        "$argon2id$v=19$m=1024,t=2,p=1$c29tZX-hbHQ$" + kHash,    // base64url's '-'
        "$argon2id$v=19$m=1024,t=2,p=1$" + kSalt + "$" + kHash + "=",
        "$argon2id$v=19$m=1024,t=2,p=1$" + kSalt, "$argon2id$v=19$m=1024,t=2,p=1$" + kSalt + "$",
        "$argon2id$v=19$m=1024,t=2,p=1$$" + kHash,
        "$argon2id$v=19$m=1024,t=2,p=1$" + kSalt + "$" + kHash + "$x"}) {
    EXPECT_FALSE(argon2idParams(bad)) << bad;
    const int rc = argon2id_verify(bad.c_str(), "x", 1);
    EXPECT_NE(rc, ARGON2_OK) << bad;
    EXPECT_NE(rc, ARGON2_VERIFY_MISMATCH) << bad << ": libargon2 would hash it";
  }
  // The least libargon2 takes is a hash: it hashes and finds a mismatch.
  for (const std::string& good : {"$argon2id$v=19$m=8,t=1,p=1$" + kSalt + "$" + kHash,
                                  "$argon2id$v=19$m=16,t=1,p=2$" + kSalt + "$" + kHash}) {
    EXPECT_TRUE(argon2idParams(good)) << good;
    EXPECT_EQ(argon2id_verify(good.c_str(), "x", 1), ARGON2_VERIFY_MISMATCH) << good;
  }
}

}  // namespace
}  // namespace gatehouse::password
