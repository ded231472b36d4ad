#include "crypto/pkey.hpp"

#include <array>
#include <utility>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "core/base64url.hpp"
#include "support/pem_blocks.hpp"
#include "support/vectors.hpp"

namespace gatehouse::crypto {
namespace {

TEST(Pkey, RsaComponentsRoundTrip) {
  SharedPkey key = generateRsa(2048).value();
  auto c = rsaComponents(key.get(), true);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->d.empty());
  auto rebuilt = rsaFromComponents(*c);
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  EXPECT_TRUE(hasPrivate(rebuilt->get()));
  EXPECT_EQ(rsaComponents(rebuilt->get(), false)->n, c->n);
}

TEST(Pkey, EcRejectsPointOffCurveAndWrongLength) {
  SharedPkey key = generateEc(Curve::P256).value();
  auto c = ecComponents(key.get(), false).value();
  EXPECT_TRUE(ecFromComponents(c));
  auto off = c;
  off.y.back() ^= 1;
  EXPECT_FALSE(ecFromComponents(off));
  auto wrong_curve = c;
  wrong_curve.curve = Curve::P384;
  EXPECT_FALSE(ecFromComponents(wrong_curve));
}

TEST(Pkey, EcPrivateMustMatchPublic) {
  auto a = ecComponents(generateEc(Curve::P256).value().get(), true).value();
  auto b = ecComponents(generateEc(Curve::P256).value().get(), true).value();
  a.d = b.d;
  EXPECT_FALSE(ecFromComponents(a));
}

TEST(Pkey, PemRoundTrip) {
  SharedPkey key = generateEd25519().value();
  auto pem = privateKeyToPem(key.get());
  ASSERT_TRUE(pem);
  EXPECT_NE(pem->find("BEGIN PRIVATE KEY"), std::string::npos);
  auto back = privateKeyFromPem(*pem);
  ASSERT_TRUE(back);
  EXPECT_EQ(ed25519Components(back->get(), true)->d, ed25519Components(key.get(), true)->d);
  auto pub = publicKeyFromPem(publicKeyToPem(key.get()).value());
  ASSERT_TRUE(pub);
  EXPECT_FALSE(hasPrivate(pub->get()));
  EXPECT_FALSE(privateKeyFromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
}

using testing::opensslReadPrivateKey;
using testing::pemBlock;

// An RSA key of `type` ("RSA" or "RSA-PSS") with `primes` primes, for the forms Gatehouse does
// not write.
SharedPkey generateRsaOf(const char* type, int primes) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_keygen_primes(ctx.get(), primes), 1);
  EXPECT_EQ(EVP_PKEY_generate(ctx.get(), &raw), 1);
  return adoptPkey(raw);
}

// `pem` is not the direct reader's: it refuses it without leaving an error, and
// privateKeyFromPem ends as OpenSSL's decoders do.
void expectLeftToTheDecoders(const std::string& pem) {
  EXPECT_FALSE(plainRsaPrivateKeyFromPem(pem));
  EXPECT_EQ(ERR_peek_error(), 0UL);
  const bool openssl_reads = opensslReadPrivateKey(pem) != nullptr;
  ERR_clear_error();
  EXPECT_EQ(privateKeyFromPem(pem).has_value(), openssl_reads);
}

std::string traditionalPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  EXPECT_EQ(
      PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
      1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

void expectSameRsaKey(EVP_PKEY* got, EVP_PKEY* want) {
  const auto a = rsaComponents(got, true).value();
  const auto b = rsaComponents(want, true).value();
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.e, b.e);
  EXPECT_EQ(a.d, b.d);
  EXPECT_EQ(a.p, b.p);
  EXPECT_EQ(a.q, b.q);
  EXPECT_EQ(a.dp, b.dp);
  EXPECT_EQ(a.dq, b.dq);
  EXPECT_EQ(a.qi, b.qi);
}

TEST(Pkey, StoredRsaKeysAreReadWithoutTheDecodersAndAsOpensslReadsThem) {
  const SharedPkey key = generateRsa(2048).value();
  const std::string pem = privateKeyToPem(key.get()).value();
  const SharedPkey direct = plainRsaPrivateKeyFromPem(pem);
  ASSERT_TRUE(direct);
  expectSameRsaKey(direct.get(), opensslReadPrivateKey(pem).get());
  EXPECT_EQ(ERR_peek_error(), 0UL);
  // It signs, and OpenSSL's own reading of the same key verifies.
  const std::string message = "signed with the key read directly";
  MdCtxPtr sign(EVP_MD_CTX_new());
  ASSERT_EQ(
      EVP_DigestSignInit_ex(sign.get(), nullptr, "SHA256", nullptr, nullptr, direct.get(), nullptr),
      1);
  std::array<unsigned char, 256> signature{};
  std::size_t length = signature.size();
  ASSERT_EQ(EVP_DigestSign(sign.get(), signature.data(), &length,
                           reinterpret_cast<const unsigned char*>(message.data()), message.size()),
            1);
  MdCtxPtr verify(EVP_MD_CTX_new());
  const SharedPkey reference = opensslReadPrivateKey(pem);
  ASSERT_EQ(EVP_DigestVerifyInit_ex(verify.get(), nullptr, "SHA256", nullptr, nullptr,
                                    reference.get(), nullptr),
            1);
  EXPECT_EQ(
      EVP_DigestVerify(verify.get(), signature.data(), length,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()),
      1);
}

TEST(Pkey, OtherPrivateKeyFormsAreLeftToTheDecoders) {
  const SharedPkey rsa = generateRsa(2048).value();
  // PKCS#1 ("RSA PRIVATE KEY"), an EC and an Ed25519 key, and a three-prime RSA key (version 1).
  const std::string pkcs1 = traditionalPem(rsa.get());
  ASSERT_NE(pkcs1.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  const SharedPkey ec = generateEc(Curve::P256).value();
  const SharedPkey ed = generateEd25519().value();
  const SharedPkey three = generateRsaOf("RSA", 3);
  ASSERT_TRUE(three);
  const std::string three_pem = privateKeyToPem(three.get()).value();
  for (const auto& [pem, key] :
       {std::pair{pkcs1, rsa}, std::pair{privateKeyToPem(ec.get()).value(), ec},
        std::pair{privateKeyToPem(ed.get()).value(), ed}, std::pair{three_pem, three}}) {
    SCOPED_TRACE(pem.substr(0, 40));
    EXPECT_FALSE(plainRsaPrivateKeyFromPem(pem));
    EXPECT_EQ(ERR_peek_error(), 0UL) << "a refusal leaves no OpenSSL error behind";
    auto read = privateKeyFromPem(pem);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(EVP_PKEY_eq(read->get(), key.get()), 1);
  }
  expectSameRsaKey(privateKeyFromPem(three_pem).value().get(), three.get());
}

TEST(Pkey, DamagedRsaBlocksAreLeftToTheDecoders) {
  const std::string pem = privateKeyToPem(generateRsa(2048).value().get()).value();
  const std::string head = "-----BEGIN PRIVATE KEY-----\n";
  const std::string tail = "-----END PRIVATE KEY-----\n";
  std::string body = pem.substr(head.size(), pem.size() - head.size() - tail.size());
  std::erase(body, '\n');
  auto der = core::base64Decode(body).value();
  ASSERT_TRUE(plainRsaPrivateKeyFromPem(pemBlock(der)));
  // Cut short, with a byte after the end, with the sequence's version set to 1 (more primes),
  // with the key's SEQUENCE tagged primitive (0x10: a generic parser takes it, OpenSSL's RSA
  // decoder does not), with a header line, and empty.
  std::string versioned = der;
  const auto inner = versioned.find(std::string("\x02\x01\x00\x02\x82", 5), 20);
  ASSERT_NE(inner, std::string::npos);
  versioned[inner + 2] = 1;
  std::string primitive = der;
  ASSERT_EQ(primitive[inner - 4], '\x30');
  primitive[inner - 4] = '\x10';
  for (const std::string& bad :
       {pemBlock(der.substr(0, der.size() - 1)), pemBlock(der + '\0'), pemBlock(versioned),
        pemBlock(primitive), head + "Comment: a header\n\n" + pem.substr(head.size()),
        pemBlock("")}) {
    SCOPED_TRACE(bad);
    // What the decoders make of it stands, as before the direct reader existed.
    expectLeftToTheDecoders(bad);
  }
}

// DER written by hand, for blocks OpenSSL would not write.
std::string der(char tag, const std::string& content) {
  std::string length;
  if (content.size() < 0x80) {
    length.push_back(static_cast<char>(content.size()));
  } else {
    for (std::size_t n = content.size(); n > 0; n >>= 8)
      length.insert(length.begin(), static_cast<char>(n & 0xff));
    length.insert(length.begin(), static_cast<char>(0x80 | length.size()));
  }
  return std::string(1, tag) + length + content;
}

std::string derUnsigned(std::string big_endian) {
  if (big_endian.empty() || (static_cast<unsigned char>(big_endian.front()) & 0x80) != 0)
    big_endian.insert(big_endian.begin(), '\0');
  return der('\x02', big_endian);
}

// A PKCS#8 block (rsaEncryption) around an RSAPrivateKey made of `fields`, armoured.
std::string rsaPkcs8Pem(const std::string& fields) {
  const std::string algorithm("\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00", 15);
  return pemBlock(der(
      '\x30', der('\x02', std::string(1, '\0')) + algorithm + der('\x04', der('\x30', fields))));
}

TEST(Pkey, HandWrittenRsaBlocksWithOddFieldsAreLeftToTheDecoders) {
  const SharedPkey key = generateRsa(2048).value();
  const auto c = rsaComponents(key.get(), true).value();
  const auto fields = [&](const std::string& e, const std::string& d) {
    return der('\x02', std::string(1, '\0')) + derUnsigned(c.n) + e + d + derUnsigned(c.p) +
           derUnsigned(c.q) + derUnsigned(c.dp) + derUnsigned(c.dq) + derUnsigned(c.qi);
  };
  const SharedPkey written =
      plainRsaPrivateKeyFromPem(rsaPkcs8Pem(fields(derUnsigned(c.e), derUnsigned(c.d))));
  ASSERT_TRUE(written);  // the writer above is right, so what follows tests the fields alone
  expectSameRsaKey(written.get(), key.get());
  // A negative public exponent, a NULL and an OCTET STRING where integers belong.
  for (const std::string& odd :
       {fields(der('\x02', "\xff\xff"), derUnsigned(c.d)),
        fields(der('\x05', ""), derUnsigned(c.d)), fields(derUnsigned(c.e), der('\x04', c.d))}) {
    expectLeftToTheDecoders(rsaPkcs8Pem(odd));
  }
}

TEST(Pkey, RsaPssKeysAreLeftToTheDecoders) {
  const SharedPkey pss = generateRsaOf("RSA-PSS", 2);
  ASSERT_TRUE(pss);
  const std::string pem = privateKeyToPem(pss.get()).value();
  EXPECT_FALSE(plainRsaPrivateKeyFromPem(pem));
  auto read = privateKeyFromPem(pem);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(EVP_PKEY_eq(read->get(), pss.get()), 1);
  EXPECT_EQ(EVP_PKEY_is_a(read->get(), "RSA-PSS"), 1);
}

TEST(Pkey, TheDirectReaderLeavesAnEarlierOpensslErrorInPlace) {
  const std::string rsa = privateKeyToPem(generateRsa(2048).value().get()).value();
  const std::string ec = privateKeyToPem(generateEc(Curve::P256).value().get()).value();
  std::string truncated = rsa;
  truncated.erase(40, 80);  // base64 that no longer decodes to a key
  for (const std::string* pem : std::initializer_list<const std::string*>{&rsa, &ec, &truncated}) {
    ERR_clear_error();
    ERR_raise(ERR_LIB_USER, 42);
    (void)plainRsaPrivateKeyFromPem(*pem);
    const unsigned long last = ERR_peek_last_error();
    EXPECT_EQ(ERR_GET_LIB(last), ERR_LIB_USER);
    EXPECT_EQ(ERR_GET_REASON(last), 42);
    EXPECT_EQ(ERR_peek_error(), last) << "one error, the caller's";
  }
  ERR_clear_error();
}

TEST(Pkey, DetectsRocaFingerprint) {
  const auto doc =
      testing::readJson(testing::vectorsDir() / "wycheproof" / "json_web_key_test.json");
  std::string roca_n;
  for (const auto& g : doc.at("testGroups").as_array()) {
    if (g.at("comment").as_string() == "jws_rsa_roca_key") {
      roca_n = *core::base64urlDecode(g.at("private").at("keys").at(0).at("n").as_string());
    }
  }
  ASSERT_FALSE(roca_n.empty());
  EXPECT_TRUE(hasRocaFingerprint(roca_n));
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(hasRocaFingerprint(rsaComponents(generateRsa(2048).value().get(), false)->n));
  }
}

}  // namespace
}  // namespace gatehouse::crypto
