#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "core/clock.hpp"
#include "jose/jwt.hpp"

namespace gatehouse::auth {

// The FastAPI seed's tokens (API.md, Moving in from elsewhere): HS256 under the seed's SECRET_KEY
// (LEGACY_SECRET_KEY, bound to HS256 alone), `sub` the seed's user id, `type` access or refresh,
// no jti/iss/sid. Accepted until LEGACY_TOKENS_UNTIL for users import-seed brought over.
// Thread-safe.
class LegacyTokens {
 public:
  // The claim carrying the seed's user id once verified (`sub` is left empty: it names no
  // Gatehouse user until the import's mapping is read).
  static constexpr std::string_view kSubjectClaim = "gatehouse_legacy_sub";
  // Where import-seed records the seed's ids.
  static constexpr std::string_view kSource = "seed";

  // InvalidArgument when the secret is shorter than HS256 allows (32 bytes).
  [[nodiscard]] static core::Result<LegacyTokens> create(std::string secret, std::int64_t until,
                                                         const core::Clock& clock,
                                                         std::size_t max_token_bytes);

  // A seed token of `type` ("access" or "refresh"): its claims with kSubjectClaim set, `jti` a
  // digest of the token (so it can be revoked and spent like ours) and `scopes` empty. Expired
  // after LEGACY_TOKENS_UNTIL as after its own `exp`.
  [[nodiscard]] tl::expected<jose::Claims, jose::JwtError> verify(std::string_view token,
                                                                  std::string_view type) const;

  std::int64_t until() const { return until_; }

 private:
  LegacyTokens(jose::JwtVerifier verifier, std::int64_t until, const core::Clock& clock)
      : verifier_(std::move(verifier)), until_(until), clock_(&clock) {}

  jose::JwtVerifier verifier_;
  std::int64_t until_;
  const core::Clock* clock_;
};

}  // namespace gatehouse::auth
