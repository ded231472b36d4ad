#pragma once
// PEM blocks for the tests of the direct RSA key reader (crypto::plainRsaPrivateKeyFromPem):
// DER armoured as OpenSSL writes it, and OpenSSL's own reading of a private key, the reference
// the reader must match. Shared by its unit test and its fuzz target; the throw-away certificate
// by the tests of CA bundles and trust stores.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/base64url.hpp"
#include "crypto/openssl.hpp"

namespace gatehouse::testing {

// `der` as a PEM block labelled `label`, in lines of 64 characters.
inline std::string pemBlock(std::string_view der, std::string_view label = "PRIVATE KEY") {
  std::string text = "-----BEGIN " + std::string(label) + "-----\n";
  const std::string b64 = core::base64Encode(der);
  for (std::size_t i = 0; i < b64.size(); i += 64) text += b64.substr(i, 64) + "\n";
  return text + "-----END " + std::string(label) + "-----\n";
}

// The key OpenSSL's decoders read from `pem`; null where they refuse it.
inline crypto::SharedPkey opensslReadPrivateKey(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return crypto::adoptPkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// A throw-away self-signed P-256 certificate named `common_name`, valid for an hour, as DER.
inline std::string selfSignedCertificateDer(const char* common_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace gatehouse::testing
