#pragma once

#include <memory>
#include <string>

#include <openssl/bn.h>
#include <openssl/evp.h>

namespace gatehouse::crypto {

// RAII owners for OpenSSL objects. EVP_PKEY is shared: OpenSSL documents concurrent use of one
// key for signing/verification as safe once it is fully built.
struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};

using SharedPkey = std::shared_ptr<EVP_PKEY>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

inline SharedPkey adoptPkey(EVP_PKEY* raw) { return SharedPkey(raw, PkeyFree{}); }

// The text of the oldest error in OpenSSL's thread-local queue (and clears it), for logs.
std::string lastOpensslError();

}  // namespace gatehouse::crypto
