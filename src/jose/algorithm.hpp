#pragma once

#include <optional>
#include <string_view>

#include "crypto/digest.hpp"
#include "crypto/signature.hpp"

namespace gatehouse::jose {

// The JWS algorithms Gatehouse signs and verifies (RFC 7518 §3, RFC 8037 §3.1).
enum class Algorithm {
  Hs256,
  Hs384,
  Hs512,
  Rs256,
  Rs384,
  Rs512,
  Ps256,
  Ps384,
  Ps512,
  Es256,
  Es384,
  Es512,
  EdDsa,
};

// The registered JWA name ("HS256", "EdDSA", ...).
std::string_view algorithmName(Algorithm alg);
// Exact, case-sensitive match of a registered name; nullopt for anything else, "none" included.
std::optional<Algorithm> algorithmFromName(std::string_view name);

bool isHmac(Algorithm alg);
crypto::Digest algorithmDigest(Algorithm alg);
crypto::SigScheme algorithmScheme(Algorithm alg);

}  // namespace gatehouse::jose
