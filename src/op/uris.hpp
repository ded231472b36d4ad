#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gatehouse::op {

inline constexpr std::size_t kMaxRedirectUriBytes = 1024;

// Why `uri` cannot be registered as a redirect (or post-logout redirect) URI; nullopt when it
// can. Accepted: absolute https URIs, http only to this machine (localhost, 127.0.0.1, [::1];
// RFC 8252 §7.3), and private-use schemes with a dot for native apps (RFC 8252 §7.1); never a
// fragment (RFC 6749 §3.1.2), userinfo, whitespace, control characters or a backslash.
std::optional<std::string> redirectUriProblem(std::string_view uri);

// Whether the request's `asked` redirect URI is one of `registered`: character for character, but
// for a loopback IP literal over http (127.0.0.1, [::1]), which matches a registered one at any
// port (RFC 8252 §7.3: a native app listens on a port the system gives it). localhost and every
// other URI match only exactly.
bool redirectUriRegistered(const std::vector<std::string>& registered, std::string_view asked);

// `uri` with `params` appended to its query (RFC 6749 §4.1.2: the registered URI's own query is
// kept); each name and value percent-encoded. Empty values are left out.
std::string withQuery(std::string_view uri,
                      const std::vector<std::pair<std::string_view, std::string_view>>& params);

}  // namespace gatehouse::op
