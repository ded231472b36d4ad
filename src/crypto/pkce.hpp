#pragma once

#include <string>
#include <string_view>

// PKCE (RFC 7636), for both sides: the OpenID Provider checks a relying party's verifier
// (op/provider), external sign-in a frontend's (oidc/oidc_service).

namespace gatehouse::crypto {

// RFC 7636 §4.1 and §4.2: a code verifier or S256 challenge is 43–128 characters of
// [A-Za-z0-9-._~].
bool isPkceValue(std::string_view value);
// BASE64URL(SHA256(verifier)) (RFC 7636 §4.2, S256).
std::string s256Challenge(std::string_view verifier);
// Whether `verifier` is well formed and hashes to `challenge` (constant time).
bool verifierMatches(std::string_view verifier, std::string_view challenge);

}  // namespace gatehouse::crypto
