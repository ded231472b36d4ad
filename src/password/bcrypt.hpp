#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::password {

inline constexpr int kBcryptMinCost = 10;
inline constexpr int kBcryptMaxCost = 31;
// bcrypt keys its cipher with at most 72 bytes and stops at NUL; longer input is refused rather
// than silently truncated.
inline constexpr std::size_t kBcryptMaxPasswordBytes = 72;

// A `$2b$` hash via libxcrypt's crypt_rn. InvalidArgument when the password is over 72 bytes or
// contains NUL, or the cost is outside [10, 31]; Internal when libxcrypt fails.
[[nodiscard]] core::Result<std::string> bcryptHash(std::string_view password, int cost);

// True when `encoded` is a `$2a$`/`$2b$`/`$2y$` hash of `password`; the final comparison is
// constant-time. A password bcrypt cannot represent never verifies, but still costs one hash.
bool bcryptVerify(std::string_view password, std::string_view encoded);

// True for `$2a$`, `$2b$`, `$2y$` strings.
bool isBcryptHash(std::string_view encoded);
// True for a bcrypt string as bcrypt writes it: the prefix, a two-digit cost, 53 characters of
// bcrypt's base64 ("./A-Za-z0-9") whose unused trailing bits are zero (the salt's 22nd character
// one of ".Oeu", the digest's 31st one whose alphabet index is a multiple of 4). Anything else
// can never match what bcrypt computes.
bool isCanonicalBcrypt(std::string_view encoded);
// The cost of a bcrypt hash; nullopt when it is not one.
std::optional<int> bcryptCost(std::string_view encoded);

}  // namespace gatehouse::password
