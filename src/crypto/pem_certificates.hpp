#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include <openssl/types.h>

#include "core/error.hpp"

namespace gatehouse::crypto {

// The most a CA bundle or trust store file may hold (Debian's whole ca-certificates.crt is about
// 220 KB).
inline constexpr std::size_t kMaxPemBundleBytes = 4 * 1024 * 1024;

struct X509Free {
  void operator()(X509* certificate) const;
};
using Certificate = std::unique_ptr<X509, X509Free>;

// The certificates of a PEM bundle, in order, read as OpenSSL's loaders read a CA file (curl's
// CAINFO, SSL_CTX_load_verify_locations): text between blocks is skipped. InvalidArgument when a
// block they know (a certificate, a CRL, a key) does not parse, since they then refuse the whole
// file at the first connection that needs it, or when there is no certificate.
[[nodiscard]] core::Result<std::vector<Certificate>> pemCertificates(std::string_view pem);

// How many there are, with the same errors.
[[nodiscard]] core::Result<std::size_t> pemCertificateCount(std::string_view pem);

}  // namespace gatehouse::crypto
