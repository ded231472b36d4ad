#include "password/bcrypt.hpp"

#include <array>
#include <memory>

#include <crypt.h>
#include <openssl/crypto.h>

#include "crypto/digest.hpp"
#include "crypto/random.hpp"

namespace gatehouse::password {
namespace {

bool representable(std::string_view password) {
  return password.size() <= kBcryptMaxPasswordBytes &&
         password.find('\0') == std::string_view::npos;
}

// crypt_rn into a heap crypt_data (it is ~32 KiB, too big for small thread stacks), wiped after.
std::optional<std::string> runCrypt(std::string& phrase, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  std::optional<std::string> result;
  if (out != nullptr && out[0] != '*') result.emplace(out);
  crypto::cleanse(phrase);
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return result;
}

}  // namespace

bool isBcryptHash(std::string_view encoded) {
  return encoded.size() == 60 && (encoded.starts_with("$2a$") || encoded.starts_with("$2b$") ||
                                  encoded.starts_with("$2y$"));
}

bool isCanonicalBcrypt(std::string_view encoded) {
  constexpr std::string_view kAlphabet =
      "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  if (!bcryptCost(encoded)) return false;
  const std::string_view body = encoded.substr(7);  // 22 salt characters, then 31 of digest
  for (const char c : body)
    if (kAlphabet.find(c) == std::string_view::npos) return false;
  return kAlphabet.find(body[21]) % 16 == 0 && kAlphabet.find(body[52]) % 4 == 0;
}

std::optional<int> bcryptCost(std::string_view encoded) {
  if (!isBcryptHash(encoded) || encoded[6] != '$') return std::nullopt;
  const char hi = encoded[4];
  const char lo = encoded[5];
  if (hi < '0' || hi > '9' || lo < '0' || lo > '9') return std::nullopt;
  return (hi - '0') * 10 + (lo - '0');
}

core::Result<std::string> bcryptHash(std::string_view password, int cost) {
  if (cost < kBcryptMinCost || cost > kBcryptMaxCost) {
    return core::makeError(core::Errc::InvalidArgument, "bcrypt cost must be between 10 and 31");
  }
  if (!representable(password)) {
    return core::makeError(core::Errc::InvalidArgument,
                           "bcrypt passwords must be at most 72 bytes without NUL");
  }
  auto salt = crypto::randomBytes(16);
  if (!salt) return tl::unexpected(salt.error());
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), salt->data(),
                       static_cast<int>(salt->size()), setting.data(),
                       static_cast<int>(setting.size())) == nullptr) {
    return core::makeError(core::Errc::Internal, "crypt_gensalt_rn failed");
  }
  std::string phrase(password);
  auto out = runCrypt(phrase, setting.data());
  if (!out) return core::makeError(core::Errc::Internal, "crypt_rn failed");
  return std::move(*out);
}

bool bcryptVerify(std::string_view password, std::string_view encoded) {
  if (!isBcryptHash(encoded)) return false;
  const bool ok_input = representable(password);
  // An unrepresentable password still pays for one hash under this setting, so its rejection
  // takes as long as a wrong password does.
  std::string phrase = ok_input ? std::string(password) : std::string("x");
  auto out = runCrypt(phrase, std::string(encoded));
  if (!out) return false;
  return crypto::constantTimeEquals(*out, encoded) && ok_input;
}

}  // namespace gatehouse::password
