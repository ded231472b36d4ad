#include "password/bcrypt.hpp"

#include <gtest/gtest.h>

namespace gatehouse::password {
namespace {

TEST(Bcrypt, HashesWith2bPrefixAndCost) {
  auto h = bcryptHash("Correct-Horse-9", 10);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_TRUE(h->starts_with("$2b$10$"));
  EXPECT_EQ(h->size(), 60U);
  EXPECT_EQ(bcryptCost(*h), 10);
  EXPECT_TRUE(bcryptVerify("Correct-Horse-9", *h));
  EXPECT_FALSE(bcryptVerify("Correct-Horse-8", *h));
  EXPECT_NE(*h, bcryptHash("Correct-Horse-9", 10).value());  // fresh salt each time
}

TEST(Bcrypt, EnforcesCostRange) {
  EXPECT_FALSE(bcryptHash("pw", 9));
  EXPECT_FALSE(bcryptHash("pw", 32));
}

TEST(Bcrypt, NeverTruncatesLongPasswords) {
  const std::string p72(72, 'a');
  auto h = bcryptHash(p72, 10);
  ASSERT_TRUE(h);
  EXPECT_TRUE(bcryptVerify(p72, *h));
  // 73 bytes that differ from the stored password only in byte 73: bcrypt alone would accept.
  EXPECT_FALSE(bcryptVerify(p72 + "b", *h));
  EXPECT_FALSE(bcryptHash(p72 + "b", 10));
}

TEST(Bcrypt, RefusesNulBytes) {
  auto h = bcryptHash("abc", 10).value();
  EXPECT_FALSE(bcryptHash(std::string("abc\0def", 7), 10));
  EXPECT_FALSE(bcryptVerify(std::string("abc\0def", 7), h));
}

TEST(Bcrypt, RecognisesOnlyBcryptStrings) {
  EXPECT_FALSE(isBcryptHash("$argon2id$v=19$m=19456,t=2,p=1$abc$def"));
  EXPECT_FALSE(isBcryptHash("$2x$05$cjxKelE0Bb8dCx5Dhg82wemGap.QLaW7bSFYtIE8frGWusoXmp7Oi"));
  EXPECT_FALSE(bcryptVerify("x", "$2b$05$short"));
  EXPECT_FALSE(bcryptCost("$2b$a5$cjxKelE0Bb8dCx5Dhg82wemGap.QLaW7bSFYtIE8frGWusoXmp7Oi"));
}

TEST(Bcrypt, OnlyWhatBcryptWritesIsCanonical) {
  // An outside attack imported "$2b$12$...!" as created: a hash no password ever matches.
  for (int i = 0; i < 20; ++i) {
    const auto h = bcryptHash("pw-" + std::to_string(i), 10).value();
    EXPECT_TRUE(isCanonicalBcrypt(h)) << h;
  }
  const std::string good = "$2b$05$cjxKelE0Bb8dCx5Dhg82wemGap.QLaW7bSFYtIE8frGWusoXmp7Oi";
  ASSERT_TRUE(isCanonicalBcrypt(good));
  std::string bang = good;
  bang.back() = '!';
  EXPECT_FALSE(isCanonicalBcrypt(bang));
  std::string salt_bits = good;
  salt_bits[7 + 21] = 'f';  // the salt's last character carries 4 unused bits: not zero here
  EXPECT_FALSE(isCanonicalBcrypt(salt_bits));
  std::string digest_bits = good;
  digest_bits.back() = 'j';  // index 37: its 2 unused bits are not zero
  EXPECT_FALSE(isCanonicalBcrypt(digest_bits));
  EXPECT_FALSE(isCanonicalBcrypt("$2x$05$cjxKelE0Bb8dCx5Dhg82wemGap.QLaW7bSFYtIE8frGWusoXmp7Oi"));
  EXPECT_FALSE(isCanonicalBcrypt(good.substr(0, 59)));
}

}  // namespace
}  // namespace gatehouse::password
