#include "jose/jwt_error.hpp"

namespace gatehouse::jose {

std::string_view jwtErrorName(JwtError e) {
  switch (e) {
    case JwtError::TooLarge:
      return "TooLarge";
    case JwtError::Malformed:
      return "Malformed";
    case JwtError::Unsupported:
      return "Unsupported";
    case JwtError::BadEncoding:
      return "BadEncoding";
    case JwtError::BadJson:
      return "BadJson";
    case JwtError::AlgNone:
      return "AlgNone";
    case JwtError::UnknownAlgorithm:
      return "UnknownAlgorithm";
    case JwtError::AlgorithmMismatch:
      return "AlgorithmMismatch";
    case JwtError::ForbiddenHeader:
      return "ForbiddenHeader";
    case JwtError::UnknownKey:
      return "UnknownKey";
    case JwtError::BadSignature:
      return "BadSignature";
    case JwtError::Expired:
      return "Expired";
    case JwtError::NotYetValid:
      return "NotYetValid";
    case JwtError::IssuedInFuture:
      return "IssuedInFuture";
    case JwtError::BadIssuer:
      return "BadIssuer";
    case JwtError::BadAudience:
      return "BadAudience";
    case JwtError::BadType:
      return "BadType";
    case JwtError::MissingClaim:
      return "MissingClaim";
    case JwtError::BadClaim:
      return "BadClaim";
  }
  return "Unknown";
}

}  // namespace gatehouse::jose
