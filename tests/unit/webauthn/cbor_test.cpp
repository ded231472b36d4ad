#include "webauthn/cbor.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"
#include "webauthn/authenticator_data.hpp"

namespace gatehouse::webauthn {
namespace {

using testing::unhex;

TEST(Cbor, DecodesTheTypesWebAuthnUses) {
  // {"fmt": "none", 1: -7, "b": h'0102', "a": [true, false, null]}
  auto v =
      cbor::decode(unhex("a463666d74646e6f6e650126616242010261618"
                         "3f5f4f6"));
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_NE(v->at("fmt"), nullptr);
  EXPECT_EQ(*v->at("fmt")->text(), "none");
  EXPECT_EQ(*v->at(1)->integer(), -7);
  EXPECT_EQ(*v->at("b")->bytes(), std::string("\x01\x02"));
  ASSERT_NE(v->at("a")->array(), nullptr);
  EXPECT_EQ(v->at("a")->array()->size(), 3U);
  EXPECT_EQ(v->at("missing"), nullptr);
}

TEST(Cbor, LargeIntegers) {
  EXPECT_EQ(*cbor::decode(unhex("1b7fffffffffffffff"))->integer(), INT64_MAX);
  EXPECT_EQ(*cbor::decode(unhex("3b7fffffffffffffff"))->integer(), INT64_MIN);
  EXPECT_FALSE(cbor::decode(unhex("1b8000000000000000")));  // above int64
  EXPECT_FALSE(cbor::decode(unhex("3b8000000000000000")));
}

TEST(Cbor, RefusesIndefiniteLengths) {
  EXPECT_FALSE(cbor::decode(unhex("9f01ff")));      // array
  EXPECT_FALSE(cbor::decode(unhex("bf616101ff")));  // map
  EXPECT_FALSE(cbor::decode(unhex("5f4101ff")));    // byte string
  EXPECT_FALSE(cbor::decode(unhex("7f6161ff")));    // text string
}

TEST(Cbor, RefusesDuplicateKeysAndOddKeys) {
  EXPECT_FALSE(cbor::decode(unhex("a2616101616102")));  // {"a":1,"a":2}
  EXPECT_FALSE(cbor::decode(unhex("a201010102")));      // {1:1,1:2}
  EXPECT_TRUE(cbor::decode(unhex("a2616101016162")));   // {"a": 1, 1: "b"}
  EXPECT_FALSE(cbor::decode(unhex("a1410101")));        // a byte-string key
  EXPECT_FALSE(cbor::decode(unhex("a1800101")));        // an array key
}

// A map of 4,000 integer keys (under the 16 KiB bound): a repeat is found however late, a nested
// map's keys are its own, and the keys are kept in their order.
TEST(Cbor, RepeatedKeysAreFoundInLargeMapsAndPerMap) {
  const auto key = [](int k) {  // 0..23 in one byte, up to 255 in two, then three
    if (k < 24) return std::string(1, static_cast<char>(k));
    if (k < 256) return std::string("\x18") + static_cast<char>(k);
    return std::string("\x19") + static_cast<char>(k >> 8) + static_cast<char>(k & 0xff);
  };
  const auto mapOf = [&](int n, int repeat_at) {
    std::string out = "\xb9";  // a map with a two-byte count
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xff);
    for (int k = 0; k < n; ++k) out += key(k == repeat_at ? 0 : k) + '\x00';
    return out;
  };
  const auto distinct = cbor::decode(mapOf(4000, -1));
  ASSERT_TRUE(distinct) << distinct.error().message;
  ASSERT_EQ(distinct->map()->size(), 4000U);
  EXPECT_EQ(*distinct->map()->back().first.integer(), 3999);
  const auto repeated = cbor::decode(mapOf(4000, 3999));
  ASSERT_FALSE(repeated);
  EXPECT_NE(repeated.error().message.find("repeated map key"), std::string::npos)
      << repeated.error().message;
  // {1: {1: 0}, 2: {"a": 0, 1: 0}}: the same key in different maps, and a text and an integer.
  EXPECT_TRUE(cbor::decode(unhex("a201a1010002a26161000100")));
}

TEST(Cbor, RefusesTagsFloatsUndefinedAndBadText) {
  EXPECT_FALSE(cbor::decode(unhex("c11a514b67b0")));  // tag 1
  EXPECT_FALSE(cbor::decode(unhex("f93c00")));        // half float
  EXPECT_FALSE(cbor::decode(unhex("fb3ff0000000000000")));
  EXPECT_FALSE(cbor::decode(unhex("f7")));      // undefined
  EXPECT_FALSE(cbor::decode(unhex("62c328")));  // invalid UTF-8
}

TEST(Cbor, RefusesTruncationTrailingBytesAndHugeDeclaredLengths) {
  EXPECT_FALSE(cbor::decode(unhex("a2616101")));            // one pair short
  EXPECT_FALSE(cbor::decode(unhex("0101")));                // trailing byte
  EXPECT_FALSE(cbor::decode(unhex("5bffffffffffffffff")));  // 2^64-1 bytes declared
  EXPECT_FALSE(cbor::decode(unhex("9bffffffffffffffff")));  // an array of 2^64-1 items
  EXPECT_FALSE(cbor::decode(unhex("bbffffffffffffffff")));
  EXPECT_FALSE(cbor::decode(""));
  auto prefix = cbor::decodePrefix(unhex("0102"));
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->consumed, 1U);
}

TEST(Cbor, BoundsDepthAndSizeBeforeDecoding) {
  std::string deep(9, '\x81');  // [[[[[[[[[0]]]]]]]]]
  deep.push_back('\x00');
  EXPECT_FALSE(cbor::decode(deep));
  EXPECT_TRUE(cbor::decode(deep.substr(1)));  // eight levels
  std::string big(16 * 1024 + 1, '\x00');
  auto r = cbor::decode(big);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("too large"), std::string::npos);
  // A long nesting attack stays bounded: refused at depth 9, not recursed into.
  std::string attack(16 * 1024, '\x81');
  EXPECT_FALSE(cbor::decode(attack));
}

TEST(Cbor, EmptyContainers) {
  auto v = cbor::decode(unhex("a2616180616260"));  // {"a": [], "b": ""}
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->at("a")->array()->empty());
}

TEST(AuthenticatorData, ParsesFlagsCounterAndAttestedData) {
  // The W3C "none.ES256" registration's authData.
  const std::string bytes = unhex(
      "bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b559000000008446ccb9ab1db374"
      "750b2367ff6f3a1f0020f91f391db4c9b2fde0ea70189cba3fb63f579ba6122b33ad94ff3ec330084be4a50102"
      "03262001215820afefa16f97ca9b2d23eb86ccb64098d20db90856062eb249c33a9b672f26df61225820930a56"
      "b87a2fca66334b03458abf879717c12cc68ed73290af2e2664796b9220");
  auto d = parseAuthenticatorData(bytes);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->user_present);
  EXPECT_FALSE(d->user_verified);  // 0x59: UP, BE, BS, AT
  EXPECT_TRUE(d->backup_eligible);
  EXPECT_TRUE(d->backed_up);
  EXPECT_EQ(d->sign_count, 0U);
  ASSERT_TRUE(d->attested);
  EXPECT_EQ(d->attested->credential_id.size(), 32U);
  EXPECT_EQ(d->attested->public_key.size(), 77U);
  // Trailing bytes, a truncated key, and BS without BE.
  EXPECT_FALSE(parseAuthenticatorData(bytes + "x"));
  EXPECT_FALSE(parseAuthenticatorData(bytes.substr(0, bytes.size() - 1)));
  std::string bs_only = bytes;
  bs_only[32] = static_cast<char>(0x51);  // UP, BS, AT
  EXPECT_FALSE(parseAuthenticatorData(bs_only));
  // A credential id length past the data.
  std::string long_id = bytes;
  long_id[37 + 16] = '\x03';
  EXPECT_FALSE(parseAuthenticatorData(long_id));
  EXPECT_FALSE(parseAuthenticatorData(bytes.substr(0, 36)));
  // AT set with nothing after the counter; ED set with no extensions.
  std::string at_only = bytes.substr(0, 37);
  EXPECT_FALSE(parseAuthenticatorData(at_only));
  std::string ed = bytes.substr(0, 37);
  ed[32] = static_cast<char>(0x81);
  EXPECT_FALSE(parseAuthenticatorData(ed));
  ed += unhex("a0");
  EXPECT_TRUE(parseAuthenticatorData(ed));
}

}  // namespace
}  // namespace gatehouse::webauthn
