#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::mfa {

// RFC 4648 §6 base32, uppercase and without padding, as authenticator apps take TOTP secrets.
std::string base32Encode(std::string_view bytes);

// Strict decode: letters of either case and the digits 2-7 only (no whitespace, no separators),
// either no padding or exactly the padding that completes the last 8-character group, and zero
// unused trailing bits, so every byte string has one accepted spelling up to case and padding.
// Returns nullopt on any violation.
std::optional<std::string> base32Decode(std::string_view text);

}  // namespace gatehouse::mfa
