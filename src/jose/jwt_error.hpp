#pragma once

#include <string_view>

namespace gatehouse::jose {

// Why a token was refused. Callers log the detail and show clients one generic message.
enum class JwtError {
  TooLarge,           // over the size cap, checked before any parsing
  Malformed,          // not three dot-separated segments, empty, or payload not a JSON object
  Unsupported,        // JWE, JSON serialization, `crit`, `b64`
  BadEncoding,        // non-canonical base64url
  BadJson,            // invalid JSON, duplicate members, invalid UTF-8, not an object
  AlgNone,            // "none" in any spelling
  UnknownAlgorithm,   // not a registered JWS algorithm we implement
  AlgorithmMismatch,  // header alg differs from the key's bound algorithm
  ForbiddenHeader,    // jku, x5u, jwk or x5c offered as a key source
  UnknownKey,         // no key for this kid, or an ambiguous choice
  BadSignature,
  Expired,
  NotYetValid,
  IssuedInFuture,
  BadIssuer,
  BadAudience,
  BadType,
  MissingClaim,
  BadClaim,  // a claim of the wrong JSON type or out of range
};

std::string_view jwtErrorName(JwtError e);

}  // namespace gatehouse::jose
