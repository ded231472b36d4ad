#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::ui {

// CSRF tokens for the pages' forms (synchronizer pattern, keyed, stateless): a form's token is
// HMAC-SHA-256 over what it is bound to. A signed-in form is bound to the browser's session id;
// a form before sign-in to the random value of the `gatehouse_csrf` cookie (a signed double
// submit: a value planted by a sibling subdomain is useless without the key). Thread-safe.
class Csrf {
 public:
  explicit Csrf(std::string key) : key_(std::move(key)) {}

  static constexpr std::string_view kCookieName = "gatehouse_csrf";
  static constexpr std::size_t kMaxBindingBytes = 256;

  // The token a form bound to `binding` carries.
  std::string tokenFor(std::string_view purpose, std::string_view binding) const;
  // Whether `presented` is that token (constant time); false for an empty binding.
  bool check(std::string_view purpose, std::string_view binding, std::string_view presented) const;
  // A fresh random value for the cookie.
  static std::optional<std::string> newBinding();

 private:
  std::string key_;
};

// Whether a request is cross-site by the headers browsers add to it (Fetch Metadata's
// Sec-Fetch-Site, else Origin compared with ours): such a POST never reaches a handler.
bool crossSite(std::optional<std::string_view> origin,
               std::optional<std::string_view> sec_fetch_site, std::string_view own_origin);

}  // namespace gatehouse::ui
