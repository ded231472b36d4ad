#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace gatehouse::auth {

// Pydantic EmailStr-like: one '@', a non-empty local part, a dotted domain, no whitespace or
// control characters, at most 254 bytes. Returns the reason, or empty when valid.
std::string emailProblem(std::string_view email);

// 3 to 32 of [A-Za-z0-9_.-]; returns the reason, or empty when valid.
std::string usernameProblem(std::string_view username);

// The address of an account whose provider gave no verified one:
// `<subject>@<provider>.oidc.invalid` (RFC 2606 reserves .invalid). No mail ever goes there.
std::string placeholderAddress(std::string_view subject, std::string_view provider);
bool isPlaceholderAddress(std::string_view address);

// Every rule of the policy the password breaks, as user-facing sentences ("Password must
// contain a digit"). Length counts Unicode code points. Invalid UTF-8 is itself a failure.
std::vector<std::string> passwordProblems(std::string_view password,
                                          const config::PasswordRules& rules);

}  // namespace gatehouse::auth
