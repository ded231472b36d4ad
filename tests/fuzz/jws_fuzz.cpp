// libFuzzer target for the token parser: the compact JWS verifier and the claims checks behind
// it, plus the strict JSON and base64url decoders they use. Built with clang (tests/fuzz/run.sh).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/base64url.hpp"
#include "core/strict_json.hpp"
#include "jose/jwt.hpp"

namespace {

using namespace gatehouse;

const jose::KeySet& keys() {
  static const jose::KeySet kKeys =
      jose::KeySet::create(
          {jose::Key::hmac(jose::Algorithm::Hs256, std::string(32, 'f'), "fuzz").value()})
          .value();
  return kKeys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)core::base64urlDecode(input);
  (void)core::parseStrictJson(input, {.max_bytes = 1U << 16U, .max_depth = 32});
  (void)jose::verifyJws(input, keys());
  (void)jose::checkClaims(input, {.issuer = "gh", .audience = "api", .type = "access"},
                          1'800'000'000);
  // Valid signatures reach the claims code through the real path too: sign the input as payload.
  if (size < 2048) {
    if (auto token = jose::signJws(keys().keys().front(), input)) {
      if (auto verified = jose::verifyJws(*token, keys())) {
        (void)jose::checkClaims(verified->payload, {}, 1'800'000'000);
      }
    }
  }
  return 0;
}
