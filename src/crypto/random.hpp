#pragma once

#include <cstddef>
#include <string>

#include "core/error.hpp"

namespace gatehouse::crypto {

// `n` bytes from OpenSSL's CSPRNG. Returns Internal if the generator fails.
[[nodiscard]] core::Result<std::string> randomBytes(std::size_t n);

// `n` CSPRNG bytes as base64url text (token ids, salts, one-time codes).
[[nodiscard]] core::Result<std::string> randomToken(std::size_t n);

}  // namespace gatehouse::crypto
