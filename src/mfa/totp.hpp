#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::mfa {

// TOTP as authenticator apps implement it (RFC 6238 with its defaults): HMAC-SHA-1, T0 = 0,
// a 30-second step, 6 digits. Pure functions; thread-safe.
inline constexpr int kTotpDigits = 6;
inline constexpr std::int64_t kTotpPeriodSeconds = 30;
inline constexpr std::size_t kTotpSecretBytes = 20;  // 160 bits, RFC 4226 §4 R6
inline constexpr int kMaxTotpWindow = 10;

// The HOTP value (RFC 4226 §5.3) of counter `step`, zero-padded to `digits` (6 to 8). Empty when
// the secret is empty, `digits` is out of range or OpenSSL fails.
std::string totpCode(std::string_view secret_bytes, std::int64_t step, int digits = kTotpDigits);

// The time step containing `unix_seconds` (RFC 6238 §4.2), rounding towards minus infinity.
std::int64_t stepAt(std::int64_t unix_seconds);

// The step among stepAt(now) - window .. stepAt(now) + window whose 6-digit code is `code`
// (the earliest if several are), so callers can refuse a step already used (RFC 6238 §5.2).
// Every candidate is computed and compared in constant time. nullopt when nothing matches,
// `code` is not exactly 6 ASCII digits, the secret is empty or `window` is outside
// 0..kMaxTotpWindow.
std::optional<std::int64_t> matchStep(std::string_view secret, std::string_view code,
                                      std::int64_t now, int window = 1);

// The Key Uri Format provisioning URI: otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...
// &algorithm=SHA1&digits=6&period=30, issuer and account percent-encoded outside RFC 3986's
// unreserved set. `base32_secret` is the unpadded base32 text (base32Encode). An empty issuer
// leaves the label as the account alone and omits the issuer parameter.
std::string otpauthUri(std::string_view issuer, std::string_view account,
                       std::string_view base32_secret);

// A fresh random secret of kTotpSecretBytes raw bytes; Internal if the CSPRNG fails.
[[nodiscard]] core::Result<std::string> newTotpSecret();

}  // namespace gatehouse::mfa
