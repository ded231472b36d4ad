#include "password/argon2.hpp"

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

}  // namespace
}  // namespace gatehouse::password
