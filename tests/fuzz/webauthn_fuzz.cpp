// libFuzzer target for what a passkey ceremony decodes from the network before any signature is
// checked: strict CBOR (attestation objects, COSE keys, extensions), authenticator data, and the
// registration and assertion checks run on arbitrary bytes. Any crash or sanitizer report fails,
// and so does a decoder that claims to have read more than it was given or accepts a prefix it
// then refuses on its own.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dynlib/libcbor.hpp"
#include "webauthn/authenticator_data.hpp"
#include "webauthn/cbor.hpp"
#include "webauthn/cose.hpp"
#include "webauthn/relying_party.hpp"

// Without libcbor every input would be refused and the run would pass having decoded nothing.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!gatehouse::dynlib::libcbor()) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gatehouse::webauthn;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto prefix = cbor::decodePrefix(input)) {
    if (prefix->consumed == 0 || prefix->consumed > input.size()) std::abort();
    if (!cbor::decode(input.substr(0, prefix->consumed))) std::abort();
    (void)coseKeyFrom(prefix->value, KeyAge::New);
  }
  (void)parseAuthenticatorData(input);
  (void)coseKeyFromBytes(input, KeyAge::New);
  (void)coseKeyFromBytes(input, KeyAge::Stored);

  RelyingParty rp;
  rp.rp_id = "example.org";
  rp.origins = {"https://example.org"};
  const std::string challenge(32, 'c');
  const std::string client_data =
      R"({"type":"webauthn.create","challenge":"Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M","origin":"https://example.org"})";
  (void)verifyRegistration(rp, {challenge, false}, client_data, input);
  (void)verifyRegistration(rp, {challenge, false}, input, input);
  // An assertion over the input as authenticator data, against a fixed P-256 key.
  static const std::string kKey = [] {
    std::string k = "\xa5\x01\x02\x03\x26\x20\x01\x21\x58\x20";
    // The W3C none.ES256 vector's public key.
    const char* x = "afefa16f97ca9b2d23eb86ccb64098d20db90856062eb249c33a9b672f26df61";
    const char* y = "930a56b87a2fca66334b03458abf879717c12cc68ed73290af2e2664796b9220";
    const auto hex = [](const char* h) {
      std::string out;
      for (; h[0] != '\0' && h[1] != '\0'; h += 2)
        out.push_back(static_cast<char>(std::stoi(std::string(h, 2), nullptr, 16)));
      return out;
    };
    k += hex(x);
    k += std::string("\x22\x58\x20", 3);
    k += hex(y);
    return k;
  }();
  const std::string get_data =
      R"({"type":"webauthn.get","challenge":"Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M","origin":"https://example.org"})";
  (void)verifyAssertion(rp, {challenge, false}, {kKey, 0, false}, get_data, input, input);
  (void)challengeOf(input);
  return 0;
}
