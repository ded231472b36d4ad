#include "crypto/hmac.hpp"

#include <array>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "crypto/openssl.hpp"

namespace gatehouse::crypto {
namespace {

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

EVP_MAC* hmacAlgorithm() {
  static EVP_MAC* const kMac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return kMac;
}

const char* digestName(Digest d) {
  switch (d) {
    case Digest::Sha256:
      return "SHA256";
    case Digest::Sha384:
      return "SHA384";
    case Digest::Sha512:
      return "SHA512";
    case Digest::Sha1:  // TOTP only (RFC 6238)
      return "SHA1";
  }
  return "";
}

}  // namespace

struct HmacKey::State {
  std::string secret;
  MacCtxPtr keyed;
  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() { cleanse(secret); }
};

std::string_view HmacKey::secret() const { return state_->secret; }

core::Result<HmacKey> HmacKey::create(Digest digest, std::string secret) {
  if (secret.empty()) return core::makeError(core::Errc::InvalidArgument, "empty HMAC key");
  auto state = std::make_shared<State>();
  state->secret = std::move(secret);
  state->keyed.reset(EVP_MAC_CTX_new(hmacAlgorithm()));
  if (!state->keyed) return core::makeError(core::Errc::Internal, "EVP_MAC_CTX_new failed");
  std::array<OSSL_PARAM, 2> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digestName(digest)),
                                       0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(state->keyed.get(), reinterpret_cast<const unsigned char*>(state->secret.data()),
                   state->secret.size(), params.data()) != 1) {
    return core::makeError(core::Errc::Internal, "EVP_MAC_init failed: " + lastOpensslError());
  }
  return HmacKey(digest, std::move(state));
}

core::Result<std::string> HmacKey::sign(std::string_view data) const {
  MacCtxPtr ctx(EVP_MAC_CTX_dup(state_->keyed.get()));
  std::string tag(digestSize(digest_), '\0');
  std::size_t len = 0;
  if (!ctx ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
          1 ||
      EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(tag.data()), &len, tag.size()) !=
          1 ||
      len != tag.size()) {
    return core::makeError(core::Errc::Internal, "HMAC failed: " + lastOpensslError());
  }
  return tag;
}

bool HmacKey::verify(std::string_view data, std::string_view tag) const {
  // Truncated tags are refused: JWS HS* uses the whole output (RFC 7518 §3.2).
  const std::size_t size = digestSize(digest_);
  if (tag.size() != size) return false;
  // On the token hot path: compute into a stack buffer, no heap string.
  std::array<unsigned char, EVP_MAX_MD_SIZE> expected{};
  MacCtxPtr ctx(EVP_MAC_CTX_dup(state_->keyed.get()));
  std::size_t len = 0;
  if (!ctx ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
          1 ||
      EVP_MAC_final(ctx.get(), expected.data(), &len, expected.size()) != 1 || len != size) {
    return false;
  }
  return CRYPTO_memcmp(expected.data(), tag.data(), size) == 0;
}

core::Result<std::string> hmac(Digest digest, std::string_view key, std::string_view data) {
  std::string tag(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (HMAC(evpMd(digest), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           reinterpret_cast<unsigned char*>(tag.data()), &len) == nullptr) {
    return core::makeError(core::Errc::Internal, "HMAC failed: " + lastOpensslError());
  }
  tag.resize(len);
  return tag;
}

}  // namespace gatehouse::crypto
