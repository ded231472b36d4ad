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
// Where a token stands against its account's watermark (User::tokens_valid_after: a password
// change, reset or deactivation moved it, by whole seconds, and ended every session). Before it:
// Ended. In its very second `iat` cannot tell before from after: a token naming a session stands
// by that session (SessionDecides; a sign-in right after the change has a new, live one), one
// naming none (a seed token) is Ended. After it: Stands.
enum class Watermark { Ended, SessionDecides, Stands };
// Inline: the token check asks it on every request.
constexpr Watermark againstWatermark(std::int64_t iat, std::int64_t tokens_valid_after,
                                     bool has_session) noexcept {
  if (iat > tokens_valid_after) return Watermark::Stands;
  if (iat == tokens_valid_after && has_session) return Watermark::SessionDecides;
  return Watermark::Ended;
}
// A space-separated OAuth2 scope string's items.
std::vector<std::string> splitScopes(std::string_view scope);
// Whether `scope` is one of the OpenID scopes (openid, profile, email, offline_access), which
// grant no permission; every other scope is an RBAC permission.
bool isOpenIdScope(std::string_view scope);
// The scope a session was narrowed to at login (the refresh token's `scope` claim); nullopt for
// a session holding its role's full permissions.
std::optional<std::vector<std::string>> grantedScope(const jose::Claims& claims);
// The key per-session counters use: "sid:<session>", or "user:<id>" for a token without one.
std::string sessionCounterKey(const jose::Claims& claims);
// The authentication methods (`amr`, RFC 8176) and time (`auth_time`) a token carries; empty and
// 0 when absent or malformed.
std::vector<std::string> amrOf(const jose::Claims& claims);
std::int64_t authTimeOf(const jose::Claims& claims);
// Whether an authentication method names a second factor (RFC 8176: otp, hwk, swk, mfa), and
// whether an amr list or a token's amr holds one (the token's read in place: step-up and
// forward-auth run on the hot path).
bool isSecondFactor(std::string_view method);
bool namesSecondFactor(const std::vector<std::string>& amr);
bool provesSecondFactor(const jose::Claims& claims);
// A token's amr space-separated, as forward-auth's X-Auth-Amr carries it; empty when absent.
std::string amrText(const jose::Claims& claims);

}  // namespace gatehouse::auth
