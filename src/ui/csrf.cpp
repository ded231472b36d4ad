#include "ui/csrf.hpp"

#include "core/base64url.hpp"
#include "crypto/digest.hpp"
#include "crypto/hmac.hpp"
#include "crypto/random.hpp"

namespace gatehouse::ui {

std::string Csrf::tokenFor(std::string_view purpose, std::string_view binding) const {
  std::string data(purpose);
  data.push_back('\0');
  data.append(binding);
  auto mac = crypto::hmac(crypto::Digest::Sha256, key_, data);
  return mac ? core::base64urlEncode(*mac) : std::string();
}

bool Csrf::check(std::string_view purpose, std::string_view binding,
                 std::string_view presented) const {
  if (binding.empty() || binding.size() > kMaxBindingBytes || presented.size() > 64) return false;
  const std::string expected = tokenFor(purpose, binding);
  return !expected.empty() && crypto::constantTimeEquals(expected, presented);
}

std::optional<std::string> Csrf::newBinding() {
  auto value = crypto::randomToken(32);
  if (!value) return std::nullopt;
  return std::move(*value);
}

bool crossSite(std::optional<std::string_view> origin,
               std::optional<std::string_view> sec_fetch_site, std::string_view own_origin) {
  // "none" is a request the user started (a bookmark, a reload that posts the form again): taken,
  // but its Origin, when it has one, must be ours (found by an outside attack: "none" was taken
  // and the Origin never looked at).
  if (sec_fetch_site && *sec_fetch_site == "none") return origin && *origin != own_origin;
  if (sec_fetch_site) return *sec_fetch_site != "same-origin";
  // "null" (a sandboxed frame, a redirect across origins) is as foreign as any other origin.
  if (origin) return *origin != own_origin;
  return false;  // neither header: not a browser that could be led across sites
}

}  // namespace gatehouse::ui
