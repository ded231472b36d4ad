#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::ui {

// The origin (scheme://host[:port], lower-case scheme and host) of an absolute http(s) URL;
// nullopt for anything else (a relative reference, userinfo, a backslash, whitespace or control
// characters, an empty host).
std::optional<std::string> originOf(std::string_view url);

// Where the portal may send a browser after sign-in (API.md: `return_to` only to
// ALLOWED_RETURN_URLS, exact origins): a path on this server ("/ui/account"; never "//host" or
// "/\host", which browsers read as another host) or an absolute URL whose origin is ours or one
// of `allowed`. nullopt for anything else, which the caller replaces by its default; an open
// redirect is never one of the answers. At most kMaxBytes.
class ReturnTo {
 public:
  static constexpr std::size_t kMaxBytes = 2048;
  ReturnTo(std::string own_origin, std::vector<std::string> allowed)
      : own_(std::move(own_origin)), allowed_(std::move(allowed)) {}
  std::optional<std::string> check(std::string_view candidate) const;
  const std::string& ownOrigin() const { return own_; }

 private:
  std::string own_;
  std::vector<std::string> allowed_;
};

}  // namespace gatehouse::ui
