#include "crypto/aead.hpp"

#include <array>

#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include "crypto/openssl.hpp"
#include "crypto/random.hpp"

namespace gatehouse::crypto {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const noexcept { EVP_CIPHER_CTX_free(p); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* p) const noexcept { EVP_KDF_CTX_free(p); }
};

constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;

const unsigned char* u(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

core::Result<std::string> seal(std::string_view key, std::string_view plaintext,
                               std::string_view aad) {
  if (key.size() != 32)
    return core::makeError(core::Errc::InvalidArgument, "AES-256-GCM needs a 32-byte key");
  auto nonce = randomBytes(kNonce);
  if (!nonce) return tl::unexpected(nonce.error());
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  std::string out = *nonce;
  out.resize(kNonce + plaintext.size() + kTag);
  int len = 0;
  auto* body = reinterpret_cast<unsigned char*>(out.data()) + kNonce;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key), u(*nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, u(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), body, &len, u(plaintext), static_cast<int>(plaintext.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx.get(), body + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, body + plaintext.size()) != 1) {
    return core::makeError(core::Errc::Internal, "AES-GCM seal failed: " + lastOpensslError());
  }
  return out;
}

std::optional<std::string> open(std::string_view key, std::string_view sealed,
                                std::string_view aad) {
  if (key.size() != 32 || sealed.size() < kNonce + kTag) return std::nullopt;
  const std::string_view nonce = sealed.substr(0, kNonce);
  const std::string_view body = sealed.substr(kNonce, sealed.size() - kNonce - kTag);
  std::string tag(sealed.substr(sealed.size() - kTag));
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  std::string out(body.size(), '\0');
  int len = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key), u(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, u(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), o, &len, u(body), static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), o + len, &len) != 1) {
    return std::nullopt;
  }
  return out;
}

core::Result<std::string> hkdf(std::string_view secret, std::string_view info, std::size_t length) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(EVP_KDF_CTX_new(kdf));
  EVP_KDF_free(kdf);
  std::array<OSSL_PARAM, 4> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  std::string out(length, '\0');
  if (!ctx || EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), length,
                             params.data()) != 1) {
    return core::makeError(core::Errc::Internal, "HKDF failed: " + lastOpensslError());
  }
  return out;
}

}  // namespace gatehouse::crypto
