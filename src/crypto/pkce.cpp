#include "crypto/pkce.hpp"

#include <algorithm>

#include "core/base64url.hpp"
#include "crypto/digest.hpp"

namespace gatehouse::crypto {

bool isPkceValue(std::string_view value) {
  if (value.size() < 43 || value.size() > 128) return false;
  return std::all_of(value.begin(), value.end(), [](char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
  });
}

std::string s256Challenge(std::string_view verifier) {
  return core::base64urlEncode(sha256(verifier));
}

bool verifierMatches(std::string_view verifier, std::string_view challenge) {
  if (!isPkceValue(verifier)) return false;
  return constantTimeEquals(s256Challenge(verifier), challenge);
}

}  // namespace gatehouse::crypto
