// libFuzzer target for what the OpenID Provider reads from clients and browsers before trusting
// it: redirect URIs (registration rules, form-action sources, appended queries), PKCE values and
// the portal's return addresses (an /oauth2/authorize address rides in return_to). Any crash,
// sanitizer report, or a URI accepted for registration whose origin cannot be told, fails.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "crypto/pkce.hpp"
#include "op/uris.hpp"
#include "ui/return_to.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gatehouse;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const bool registrable = !op::redirectUriProblem(input).has_value();
  if (registrable && (input.starts_with("https://") || input.starts_with("http://")) &&
      !ui::originOf(input))
    std::abort();  // an http(s) redirect URI we would register must have a checkable origin
  (void)op::withQuery(input, {{"code", input}, {"state", input}, {"iss", "https://id.example"}});
  (void)crypto::isPkceValue(input);
  (void)crypto::verifierMatches(input, crypto::s256Challenge(input));
  static const ui::ReturnTo kReturn("https://id.example", {"https://app.example"});
  (void)kReturn.check(input);
  return 0;
}
