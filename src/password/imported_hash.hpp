#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "password/argon2.hpp"

namespace gatehouse::password {

// Hash formats Gatehouse verifies but never makes, so that users moved in from elsewhere sign in
// with the password they have (API.md, Moving in from elsewhere); the first successful login
// replaces them with the configured scheme.
//   $pbkdf2-sha256$<rounds>$<salt>$<checksum>   passlib (also $pbkdf2-sha512$ and $pbkdf2$, SHA-1),
//                                               salt and checksum in passlib's "ab64" base64
//   pbkdf2_sha256$<iterations>$<salt>$<hash>    Django (also pbkdf2_sha1): the salt is text, the
//                                               hash standard base64
//   $argon2i$v=19$m=..,t=..,p=..$salt$hash      argon2i PHC strings (argon2-cffi, passlib)
// Keycloak's PBKDF2 credentials are stored as the passlib string (keycloakToEncoded).

// Bounds on the work one imported hash may ask for: beyond them it is refused at import, and a
// stored one is not checked at sign-in unless the configured policy makes hashes as costly
// (PasswordHasher::verify). Each attempt on such a hash holds a hashing thread: a bcrypt cost of
// 31 takes about a day, so two sign-in attempts on one imported account stopped every login
// (found by an outside attack). The bounds leave room for real hashes: bcrypt up to cost 16 (64
// times the usual 10); argon2 up to 1 GiB, 64 lanes and 4 GiB-passes of work, memory times passes,
// which the lanes share (RFC 9106's second recommendation is 64 MiB x 3 passes, OWASP's 19 MiB x
// 2); PBKDF2 up to 2,000,000 iterations, and up to 8,000,000 iterations times the blocks of the
// digest's size in the derived key (each block runs every iteration again): Keycloak's current
// defaults are within it (PBKDF2-SHA1 1,300,000 x a 64-byte key, 4 blocks), a 128-byte SHA-1 key at
// 2,000,000 (7 blocks, about 5 s of a core) is not.
inline constexpr int kMaxImportedBcryptCost = 16;
inline constexpr std::int64_t kMaxPbkdf2Iterations = 2'000'000;
inline constexpr std::int64_t kMaxPbkdf2Work = 8'000'000;
inline constexpr std::uint32_t kMaxImportedArgon2MemoryKib = 1U << 20U;  // 1 GiB
inline constexpr std::uint32_t kMaxImportedArgon2Iterations = 64;
inline constexpr std::uint32_t kMaxImportedArgon2Lanes = 64;
inline constexpr std::uint64_t kMaxImportedArgon2Work = 4ULL << 20U;  // KiB x passes

// Whether argon2 parameters (argon2id or argon2i) are within the bounds above.
bool argon2WithinImportBounds(const Argon2Params& params);

// True for a string of one of the formats above, well formed and within the bounds.
bool isImportedHash(std::string_view encoded);

// An imported argon2i string's parameters (within the bounds); nullopt for anything else.
std::optional<Argon2Params> argon2iParams(std::string_view encoded);

// An imported PBKDF2 string's work: iterations times the digest-sized blocks of its derived key
// (within the bounds); nullopt for anything else.
std::optional<std::int64_t> pbkdf2Work(std::string_view encoded);

// True when `encoded` (one of the formats above) is a hash of `password`; the comparison is
// constant-time. False for anything else.
bool verifyImported(std::string_view password, std::string_view encoded);

// A Keycloak password credential (`algorithm` pbkdf2-sha256, pbkdf2-sha512 or pbkdf2 (SHA-1),
// `hashIterations`, standard-base64 `salt` and `value`) as the passlib string Gatehouse stores.
// InvalidArgument for another algorithm, bad base64 or iterations out of bounds.
[[nodiscard]] core::Result<std::string> keycloakToEncoded(std::string_view algorithm,
                                                          std::int64_t iterations,
                                                          std::string_view salt_b64,
                                                          std::string_view value_b64);

}  // namespace gatehouse::password
