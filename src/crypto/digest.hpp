#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <openssl/evp.h>

#include "core/error.hpp"

namespace gatehouse::crypto {

// Sha1 exists only for HMAC-SHA-1 in TOTP (RFC 6238 §1.2, which authenticator apps expect); never
// use it for signatures or token digests.
enum class Digest { Sha256, Sha384, Sha512, Sha1 };

// The fetched EVP_MD for `d` (fetched once per process, never freed).
const EVP_MD* evpMd(Digest d);
std::size_t digestSize(Digest d);

std::string sha256(std::string_view data);
// The digest of `data` with `d`; empty only if OpenSSL fails.
std::string digest(Digest d, std::string_view data);

// Equality in time that depends only on the lengths (CRYPTO_memcmp).
bool constantTimeEquals(std::string_view a, std::string_view b);

// Overwrites `s` with zeros in a way the compiler cannot elide (OPENSSL_cleanse).
void cleanse(std::string& s);

}  // namespace gatehouse::crypto
