#include "password/imported_hash.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/base64url.hpp"
#include "password/argon2.hpp"

namespace gatehouse::password {
namespace {

// The smallest and largest derived keys accepted (SHA-1's output to Keycloak's 512 bits of
// SHA-512 and some).
constexpr std::size_t kMinDerivedBytes = 16;
constexpr std::size_t kMaxDerivedBytes = 128;
constexpr std::size_t kMaxSaltBytes = 1024;

struct Pbkdf2 {
  const EVP_MD* md = nullptr;
  std::int64_t iterations = 0;
  std::string salt;
  std::string derived;
};

// Standard base64 (with or without padding) or passlib's ab64 ('.' for '+'), strictly.
std::optional<std::string> decodeBase64(std::string_view text, bool ab64) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (!ab64) return core::base64DecodeUnpadded(text);
  std::string standard(text);
  for (char& c : standard) {
    if (c == '+') return std::nullopt;  // ab64 writes '.' for it
    if (c == '.') c = '+';
  }
  return core::base64DecodeUnpadded(standard);
}

std::string encodeAb64(std::string_view bytes) {
  std::string out = core::base64urlEncode(bytes);
  for (char& c : out) {
    if (c == '-') c = '.';
    if (c == '_') c = '/';
  }
  return out;
}

std::optional<std::int64_t> number(std::string_view text) {
  std::int64_t n = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || n < 1 || n > kMaxPbkdf2Iterations)
    return std::nullopt;
  return n;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto at = text.find(sep, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

bool fits(const Pbkdf2& p) {
  // Each block of the derived key (the digest's size) costs all the iterations again: 128 bytes
  // of PBKDF2-SHA1 are seven runs (found by an outside attack).
  const auto digest = static_cast<std::size_t>(EVP_MD_get_size(p.md));
  const auto blocks = static_cast<std::int64_t>((p.derived.size() + digest - 1) / digest);
  return p.derived.size() >= kMinDerivedBytes && p.derived.size() <= kMaxDerivedBytes &&
         !p.salt.empty() && p.salt.size() <= kMaxSaltBytes &&
         p.iterations * blocks <= kMaxPbkdf2Work;
}

std::optional<Pbkdf2> parsePasslib(std::string_view encoded) {
  const auto parts = split(encoded, '$');  // "", "pbkdf2-sha256", rounds, salt, checksum
  if (parts.size() != 5 || !parts[0].empty()) return std::nullopt;
  Pbkdf2 p;
  if (parts[1] == "pbkdf2-sha256") {
    p.md = EVP_sha256();
  } else if (parts[1] == "pbkdf2-sha512") {
    p.md = EVP_sha512();
  } else if (parts[1] == "pbkdf2") {
    p.md = EVP_sha1();
  } else {
    return std::nullopt;
  }
  const auto rounds = number(parts[2]);
  auto salt = decodeBase64(parts[3], true);
  auto derived = decodeBase64(parts[4], true);
  if (!rounds || !salt || !derived) return std::nullopt;
  p.iterations = *rounds;
  p.salt = std::move(*salt);
  p.derived = std::move(*derived);
  return fits(p) ? std::optional(p) : std::nullopt;
}

std::optional<Pbkdf2> parseDjango(std::string_view encoded) {
  const auto parts = split(encoded, '$');  // "pbkdf2_sha256", iterations, salt, hash
  if (parts.size() != 4) return std::nullopt;
  Pbkdf2 p;
  if (parts[0] == "pbkdf2_sha256") {
    p.md = EVP_sha256();
  } else if (parts[0] == "pbkdf2_sha1") {
    p.md = EVP_sha1();
  } else {
    return std::nullopt;
  }
  const auto iterations = number(parts[1]);
  auto derived = decodeBase64(parts[3], false);
  if (!iterations || !derived) return std::nullopt;
  p.iterations = *iterations;
  p.salt = std::string(parts[2]);  // Django uses the salt's text as it is
  p.derived = std::move(*derived);
  return fits(p) ? std::optional(p) : std::nullopt;
}

std::optional<Pbkdf2> parsePbkdf2(std::string_view encoded) {
  if (encoded.starts_with("$pbkdf2")) return parsePasslib(encoded);
  if (encoded.starts_with("pbkdf2_")) return parseDjango(encoded);
  return std::nullopt;
}

std::int64_t blocksOf(const Pbkdf2& p) {
  const auto digest = static_cast<std::size_t>(EVP_MD_get_size(p.md));
  return static_cast<std::int64_t>((p.derived.size() + digest - 1) / digest);
}

}  // namespace

// argon2i shares argon2id's PHC syntax; its parameters are read by the same parser.
std::optional<Argon2Params> argon2iParams(std::string_view encoded) {
  constexpr std::string_view kPrefix = "$argon2i$";
  if (!encoded.starts_with(kPrefix)) return std::nullopt;
  auto params = argon2idParams("$argon2id$" + std::string(encoded.substr(kPrefix.size())));
  if (!params || !argon2WithinImportBounds(*params)) return std::nullopt;
  return params;
}

std::optional<std::int64_t> pbkdf2Work(std::string_view encoded) {
  const auto p = parsePbkdf2(encoded);
  if (!p) return std::nullopt;
  return p->iterations * blocksOf(*p);
}

bool argon2WithinImportBounds(const Argon2Params& params) {
  return params.memory_kib <= kMaxImportedArgon2MemoryKib &&
         params.iterations <= kMaxImportedArgon2Iterations &&
         params.parallelism <= kMaxImportedArgon2Lanes &&
         std::uint64_t{params.memory_kib} * params.iterations <= kMaxImportedArgon2Work;
}

bool isImportedHash(std::string_view encoded) {
  return parsePbkdf2(encoded).has_value() || argon2iParams(encoded).has_value();
}

bool verifyImported(std::string_view password, std::string_view encoded) {
  if (argon2iParams(encoded)) {
    const std::string phc(encoded);
    return argon2i_verify(phc.c_str(), password.data(), password.size()) == ARGON2_OK;
  }
  const auto p = parsePbkdf2(encoded);
  if (!p) return false;
  std::string derived(p->derived.size(), '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(p->salt.data()),
                        static_cast<int>(p->salt.size()), static_cast<int>(p->iterations), p->md,
                        static_cast<int>(derived.size()),
                        reinterpret_cast<unsigned char*>(derived.data())) != 1)
    return false;
  return CRYPTO_memcmp(derived.data(), p->derived.data(), derived.size()) == 0;
}

core::Result<std::string> keycloakToEncoded(std::string_view algorithm, std::int64_t iterations,
                                            std::string_view salt_b64, std::string_view value_b64) {
  std::string_view scheme;
  if (algorithm == "pbkdf2-sha256") {
    scheme = "pbkdf2-sha256";
  } else if (algorithm == "pbkdf2-sha512") {
    scheme = "pbkdf2-sha512";
  } else if (algorithm == "pbkdf2") {
    scheme = "pbkdf2";
  } else {
    return core::makeError(core::Errc::InvalidArgument, "unsupported Keycloak algorithm");
  }
  const auto salt = decodeBase64(salt_b64, false);
  const auto value = decodeBase64(value_b64, false);
  if (!salt || !value) return core::makeError(core::Errc::InvalidArgument, "bad base64");
  const std::string encoded = "$" + std::string(scheme) + "$" + std::to_string(iterations) + "$" +
                              encodeAb64(*salt) + "$" + encodeAb64(*value);
  if (!parsePasslib(encoded))
    return core::makeError(core::Errc::InvalidArgument, "iterations, salt or value out of range");
  return encoded;
}

}  // namespace gatehouse::password
