#include "password/argon2.hpp"

#include <charconv>

#include <argon2.h>

#include "core/base64url.hpp"
#include "crypto/random.hpp"

namespace gatehouse::password {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
// Guard against hostile stored strings: at most 4 GiB of memory and 64 lanes.
constexpr std::uint32_t kMaxMemoryKib = 4U * 1024U * 1024U;
constexpr std::uint32_t kMaxLanes = 64;

// Reads "name=<digits>" at the front of `s` and advances past it.
std::optional<std::uint32_t> takeParam(std::string_view& s, std::string_view name) {
  if (!s.starts_with(name) || s.size() <= name.size() || s[name.size()] != '=') return std::nullopt;
  s.remove_prefix(name.size() + 1);
  std::uint32_t value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
  return value;
}

// The bytes an unpadded standard-base64 field of a PHC string decodes to (libargon2's from_base64:
// the bits left over at the end must be zero); nullopt when it is not one.
std::optional<std::size_t> phcBase64Bytes(std::string_view text) {
  const auto bytes = core::base64DecodeUnpadded(text);
  if (!bytes || bytes->empty()) return std::nullopt;
  return bytes->size();
}

}  // namespace

bool isArgon2idHash(std::string_view encoded) { return encoded.starts_with("$argon2id$"); }

std::optional<Argon2Params> argon2idParams(std::string_view encoded) {
  if (!isArgon2idHash(encoded)) return std::nullopt;
  std::string_view s = encoded.substr(std::string_view("$argon2id$").size());
  const auto version = takeParam(s, "v");
  if (!version || *version != ARGON2_VERSION_13 || !s.starts_with('$')) return std::nullopt;
  s.remove_prefix(1);
  Argon2Params p;
  const auto m = takeParam(s, "m");
  if (!m || !s.starts_with(',')) return std::nullopt;
  s.remove_prefix(1);
  const auto t = takeParam(s, "t");
  if (!t || !s.starts_with(',')) return std::nullopt;
  s.remove_prefix(1);
  const auto lanes = takeParam(s, "p");
  if (!lanes || !s.starts_with('$')) return std::nullopt;
  s.remove_prefix(1);
  // "<salt>$<hash>", each unpadded standard base64, as libargon2 decodes them.
  const auto dollar = s.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  const auto salt = phcBase64Bytes(s.substr(0, dollar));
  const auto hash = phcBase64Bytes(s.substr(dollar + 1));
  // What libargon2 refuses before hashing (validate_inputs): such a string is no one's hash, and a
  // password can never match it.
  if (!salt || *salt < ARGON2_MIN_SALT_LENGTH || !hash || *hash < ARGON2_MIN_OUTLEN ||
      *t < ARGON2_MIN_TIME || *lanes < ARGON2_MIN_LANES || *lanes > ARGON2_MAX_LANES ||
      std::uint64_t{*m} < std::uint64_t{2} * ARGON2_SYNC_POINTS * *lanes)
    return std::nullopt;
  p.memory_kib = *m;
  p.iterations = *t;
  p.parallelism = *lanes;
  return p;
}

core::Result<std::string> argon2idHash(std::string_view password, const Argon2Params& params) {
  if (params.memory_kib < 8 * params.parallelism || params.memory_kib > kMaxMemoryKib ||
      params.iterations < 1 || params.parallelism < 1 || params.parallelism > kMaxLanes) {
    return core::makeError(core::Errc::InvalidArgument, "argon2id parameters out of range");
  }
  auto salt = crypto::randomBytes(kSaltBytes);
  if (!salt) return tl::unexpected(salt.error());
  std::string encoded(argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism,
                                        kSaltBytes, kHashBytes, Argon2_id),
                      '\0');
  const int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                       password.data(), password.size(), salt->data(), salt->size(),
                                       kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return core::makeError(core::Errc::Internal,
                           std::string("argon2id failed: ") + argon2_error_message(rc));
  }
  encoded.resize(encoded.find('\0'));
  return encoded;
}

bool argon2idVerify(std::string_view password, std::string_view encoded) {
  const auto params = argon2idParams(encoded);
  if (!params || params->memory_kib > kMaxMemoryKib || params->parallelism > kMaxLanes)
    return false;
  const std::string phc(encoded);
  return argon2id_verify(phc.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace gatehouse::password
