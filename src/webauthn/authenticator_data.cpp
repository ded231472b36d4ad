#include "webauthn/authenticator_data.hpp"

namespace gatehouse::webauthn {
namespace {

constexpr unsigned kUp = 0x01;
constexpr unsigned kUv = 0x04;
constexpr unsigned kBe = 0x08;
constexpr unsigned kBs = 0x10;
constexpr unsigned kAt = 0x40;
constexpr unsigned kEd = 0x80;
constexpr std::size_t kFixedBytes = 37;  // rpIdHash, flags, signCount

core::Error invalid(std::string why) {
  return core::Error{core::Errc::InvalidArgument, "authenticator data: " + std::move(why)};
}

std::uint32_t bigEndian(std::string_view b) {
  std::uint32_t v = 0;
  for (const char c : b) v = (v << 8U) | static_cast<unsigned char>(c);
  return v;
}

}  // namespace

core::Result<AuthenticatorData> parseAuthenticatorData(std::string_view bytes) {
  if (bytes.size() > kMaxAuthenticatorDataBytes) return tl::unexpected(invalid("too large"));
  if (bytes.size() < kFixedBytes) return tl::unexpected(invalid("too short"));
  AuthenticatorData out;
  out.rp_id_hash = std::string(bytes.substr(0, 32));
  const unsigned flags = static_cast<unsigned char>(bytes[32]);
  out.user_present = (flags & kUp) != 0;
  out.user_verified = (flags & kUv) != 0;
  out.backup_eligible = (flags & kBe) != 0;
  out.backed_up = (flags & kBs) != 0;
  if (out.backed_up && !out.backup_eligible)
    return tl::unexpected(invalid("backed up but not backup eligible"));
  out.sign_count = bigEndian(bytes.substr(33, 4));
  std::string_view rest = bytes.substr(kFixedBytes);

  if ((flags & kAt) != 0) {
    if (rest.size() < 18) return tl::unexpected(invalid("attested credential data truncated"));
    AttestedCredential cred;
    cred.aaguid = std::string(rest.substr(0, 16));
    const std::size_t id_len = bigEndian(rest.substr(16, 2));
    rest.remove_prefix(18);
    if (id_len == 0 || id_len > kMaxCredentialIdBytes)
      return tl::unexpected(invalid("credential id length out of range"));
    if (rest.size() < id_len) return tl::unexpected(invalid("credential id truncated"));
    cred.credential_id = std::string(rest.substr(0, id_len));
    rest.remove_prefix(id_len);
    auto key = cbor::decodePrefix(rest, {.max_bytes = kMaxAuthenticatorDataBytes, .max_depth = 2});
    if (!key) return tl::unexpected(invalid("public key: " + key.error().message));
    if (key->value.map() == nullptr) return tl::unexpected(invalid("public key is not a map"));
    cred.public_key = std::string(rest.substr(0, key->consumed));
    cred.public_key_map = std::move(key->value);
    rest.remove_prefix(key->consumed);
    out.attested = std::move(cred);
  }
  if ((flags & kEd) != 0) {
    auto ext = cbor::decode(rest, {.max_bytes = kMaxAuthenticatorDataBytes, .max_depth = 4});
    if (!ext) return tl::unexpected(invalid("extensions: " + ext.error().message));
    if (ext->map() == nullptr) return tl::unexpected(invalid("extensions are not a map"));
    out.extensions = std::move(*ext);
    rest = {};
  }
  if (!rest.empty()) return tl::unexpected(invalid("trailing bytes"));
  return out;
}

}  // namespace gatehouse::webauthn
