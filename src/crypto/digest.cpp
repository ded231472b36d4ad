#include "crypto/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace gatehouse::crypto {

const EVP_MD* evpMd(Digest d) {
  // Explicit fetches avoid OpenSSL 3's implicit fetch on every EVP_DigestInit.
  static const EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static const EVP_MD* const kSha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static const EVP_MD* const kSha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  static const EVP_MD* const kSha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  switch (d) {
    case Digest::Sha256:
      return kSha256;
    case Digest::Sha384:
      return kSha384;
    case Digest::Sha512:
      return kSha512;
    case Digest::Sha1:  // TOTP only (RFC 6238)
      return kSha1;
  }
  return nullptr;
}

std::size_t digestSize(Digest d) {
  switch (d) {
    case Digest::Sha256:
      return 32;
    case Digest::Sha384:
      return 48;
    case Digest::Sha512:
      return 64;
    case Digest::Sha1:
      return 20;
  }
  return 0;
}

std::string sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string digest(Digest d, std::string_view data) {
  std::string out(digestSize(d), '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 evpMd(d), nullptr) != 1) {
    return {};
  }
  out.resize(len);
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace gatehouse::crypto
