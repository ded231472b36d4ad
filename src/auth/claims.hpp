#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jose/jwt.hpp"

namespace gatehouse::auth {

// The user id in a token's `sub`; nullopt unless a positive decimal integer.
std::optional<std::int64_t> userIdOf(const jose::Claims& claims);
// The token's session (`sid`); empty when it has none. A view into `claims`.
std::string_view sessionOf(const jose::Claims& claims);
// A space-separated OAuth2 scope string's items.
std::vector<std::string> splitScopes(std::string_view scope);
// The scope a session was narrowed to at login (the refresh token's `scope` claim); nullopt for
// a session holding its role's full permissions.
std::optional<std::vector<std::string>> grantedScope(const jose::Claims& claims);
// The authentication methods (`amr`, RFC 8176) and time (`auth_time`) a token carries; empty and
// 0 when absent or malformed.
std::vector<std::string> amrOf(const jose::Claims& claims);
std::int64_t authTimeOf(const jose::Claims& claims);
bool hasMethod(const jose::Claims& claims, std::string_view method);
// Whether an amr list names a second factor (RFC 8176: otp, hwk, swk, mfa).
bool namesSecondFactor(const std::vector<std::string>& amr);

}  // namespace gatehouse::auth
