#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::crypto {

// AES-256-GCM with a random 96-bit nonce: seal() returns nonce || ciphertext || tag; open()
// returns the plaintext only when the tag verifies. `key` must be 32 bytes; `aad` is bound to the
// ciphertext (a context label, so a blob sealed for one purpose cannot be replayed for another).
[[nodiscard]] core::Result<std::string> seal(std::string_view key, std::string_view plaintext,
                                             std::string_view aad);
std::optional<std::string> open(std::string_view key, std::string_view sealed,
                                std::string_view aad);

// HKDF-SHA256 (RFC 5869): `length` bytes for `info` from `secret`.
[[nodiscard]] core::Result<std::string> hkdf(std::string_view secret, std::string_view info,
                                             std::size_t length);

}  // namespace gatehouse::crypto
