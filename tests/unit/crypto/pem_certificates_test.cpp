#include "crypto/pem_certificates.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "support/pem_blocks.hpp"

namespace gatehouse::crypto {
namespace {

// What the loaders behind curl's CAINFO and SSL_CTX_load_verify_locations make of the same text.
bool opensslLoadsAsCaFile(const std::string& pem) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("gatehouse-pem-test-" + std::to_string(::getpid()) + ".pem");
  std::ofstream(path, std::ios::binary) << pem;
  X509_STORE* store = X509_STORE_new();
  const bool ok = X509_STORE_load_file(store, path.c_str()) == 1;
  X509_STORE_free(store);
  std::filesystem::remove(path);
  return ok;
}

class PemCertificates : public ::testing::Test {
 protected:
  std::string first_ = testing::pemBlock(testing::selfSignedCertificateDer("first"), "CERTIFICATE");
  std::string second_ =
      testing::pemBlock(testing::selfSignedCertificateDer("second"), "CERTIFICATE");
};

TEST_F(PemCertificates, CountsTheBlocksOpenSslLoads) {
  const std::string bundle = "# a CA bundle\nSubject: first\n" + first_ + "\nnotes between\n" +
                             testing::pemBlock("a kind no loader reads", "GATEHOUSE NOTE") +
                             second_ + "trailing words\n";
  EXPECT_EQ(pemCertificateCount(first_), 1U);
  EXPECT_EQ(pemCertificateCount(bundle), 2U);
  EXPECT_TRUE(opensslLoadsAsCaFile(bundle));
}

// The certificates themselves, in the bundle's order, each the one its block holds.
TEST_F(PemCertificates, HandsBackEachCertificateInOrder) {
  const auto certificates = pemCertificates(first_ + "between\n" + second_);
  ASSERT_TRUE(certificates) << certificates.error().message;
  ASSERT_EQ(certificates->size(), 2U);
  const char* names[] = {"first", "second"};
  for (std::size_t i = 0; i < 2; ++i) {
    char cn[64] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name((*certificates)[i].get()), NID_commonName, cn,
                              sizeof cn);
    EXPECT_STREQ(cn, names[i]);
  }
}

TEST_F(PemCertificates, NoneIsRefused) {
  for (const std::string& text :
       {std::string(), std::string("just text\n"), testing::pemBlock("x", "PUBLIC KEY")}) {
    auto n = pemCertificateCount(text);
    ASSERT_FALSE(n) << text;
    EXPECT_EQ(n.error().message, "holds no PEM certificate");
    EXPECT_FALSE(opensslLoadsAsCaFile(text)) << text;
  }
}

// A broken block, of a certificate or of a key: OpenSSL's loaders refuse the whole file, so the
// check says so now rather than at the first connection that needs the bundle.
TEST_F(PemCertificates, ABlockThatDoesNotParseIsRefused) {
  std::string truncated_der = testing::selfSignedCertificateDer("cut");
  truncated_der.resize(truncated_der.size() / 2);
  const std::string bad_base64 =
      "-----BEGIN CERTIFICATE-----\nnot*base64*at*all\n"
      "-----END CERTIFICATE-----\n";
  const std::string no_end = first_.substr(0, first_.size() / 2);
  for (const auto& text :
       {bad_base64, first_ + bad_base64, first_ + testing::pemBlock(truncated_der, "CERTIFICATE"),
        first_ + second_ + no_end, first_ + testing::pemBlock("not a key at all", "PRIVATE KEY")}) {
    auto n = pemCertificateCount(text);
    ASSERT_FALSE(n) << text;
    EXPECT_EQ(n.error().message, "holds a PEM block that does not parse");
    EXPECT_FALSE(opensslLoadsAsCaFile(text)) << text;
  }
}

}  // namespace
}  // namespace gatehouse::crypto
