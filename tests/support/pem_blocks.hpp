#pragma once
// PEM blocks for the tests of the direct RSA key reader (crypto::plainRsaPrivateKeyFromPem):
// DER armoured as OpenSSL writes it, and OpenSSL's own reading of a private key, the reference
// the reader must match. Shared by its unit test and its fuzz target.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/pem.h>

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

}  // namespace gatehouse::testing
