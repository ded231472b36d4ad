#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::password {

// argon2id cost parameters; the defaults are OWASP's minimum (m = 19 MiB, t = 2, p = 1).
struct Argon2Params {
  std::uint32_t memory_kib = 19456;
  std::uint32_t iterations = 2;
  std::uint32_t parallelism = 1;
};

// A PHC string `$argon2id$v=19$m=..,t=..,p=..$salt$hash` (16-byte salt, 32-byte hash), as
// argon2-cffi and passlib write it. InvalidArgument for out-of-range parameters; Internal when
// libargon2 fails.
[[nodiscard]] core::Result<std::string> argon2idHash(std::string_view password,
                                                     const Argon2Params& params);

// True when `encoded` is an argon2id PHC string of `password` (libargon2 compares in constant
// time).
bool argon2idVerify(std::string_view password, std::string_view encoded);

bool isArgon2idHash(std::string_view encoded);
// The parameters of an argon2id PHC string; nullopt when it is not one, whole: version 19, its
// salt and hash in unpadded base64, and nothing libargon2 refuses before hashing (a salt under 8
// bytes, a hash under 4, t or p of 0, m under 8 x p), which no password can ever match.
std::optional<Argon2Params> argon2idParams(std::string_view encoded);

}  // namespace gatehouse::password
