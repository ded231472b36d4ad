#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/error.hpp"
#include "jose/jwk.hpp"
#include "jose/jws_header.hpp"
#include "jose/jwt_error.hpp"
#include "jose/key.hpp"

namespace gatehouse::jose {

inline constexpr std::size_t kDefaultMaxTokenBytes = 8192;

struct JwsLimits {
  std::size_t max_token_bytes = kDefaultMaxTokenBytes;
};

// A compact JWS whose signature checked out: the protected header's relevant members, the decoded
// payload bytes (not yet interpreted) and the key that verified it.
struct VerifiedJws {
  JwsHeader header;
  std::string payload;
  const Key* key = nullptr;
};

// Verifies a compact JWS (RFC 7515 §7.1) against `keys`. In order: size cap before any parsing;
// exactly three segments (five = JWE, refused); canonical base64url; a strict JSON object header
// with no `jku`/`x5u`/`jwk`/`x5c`, no `crit` or `b64`; `alg` a registered name (never "none") equal
// to the bound algorithm of the key chosen by `kid`; then the signature.
[[nodiscard]] tl::expected<VerifiedJws, JwtError> verifyJws(std::string_view token,
                                                            const KeySet& keys,
                                                            const JwsLimits& limits = {});

// Signs `payload` as a compact JWS with header {"alg", "typ" (when non-empty), "kid"}.
// FailedPrecondition when the key cannot sign.
[[nodiscard]] core::Result<std::string> signJws(const Key& key, std::string_view payload,
                                                std::string_view typ = "JWT");

}  // namespace gatehouse::jose
