#include "mfa/totp.hpp"

#include <algorithm>
#include <array>

#include "crypto/digest.hpp"
#include "crypto/hmac.hpp"
#include "crypto/random.hpp"

namespace gatehouse::mfa {
namespace {

constexpr std::array<std::uint32_t, 9> kPow10 = {1,      10,      100,      1000,     10000,
                                                 100000, 1000000, 10000000, 100000000};

// RFC 4226 §5.3: HMAC-SHA-1 over the 8-byte big-endian counter, dynamic truncation to 31 bits,
// then modulo 10^digits.
std::string hotp(const crypto::HmacKey& key, std::int64_t step, int digits) {
  const auto counter_value = static_cast<std::uint64_t>(step);
  std::array<char, 8> counter{};
  for (std::size_t i = 0; i < counter.size(); ++i) {
    counter[i] = static_cast<char>((counter_value >> (56U - 8U * i)) & 0xFFU);
  }
  auto tag = key.sign(std::string_view(counter.data(), counter.size()));
  if (!tag || tag->size() < 20) return {};
  const auto byteAt = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>((*tag)[i]));
  };
  const std::size_t offset = byteAt(tag->size() - 1) & 0x0FU;
  const std::uint32_t binary = ((byteAt(offset) & 0x7FU) << 24U) | (byteAt(offset + 1) << 16U) |
                               (byteAt(offset + 2) << 8U) | byteAt(offset + 3);
  crypto::cleanse(*tag);
  std::uint32_t value = binary % kPow10[static_cast<std::size_t>(digits)];
  std::string out(static_cast<std::size_t>(digits), '0');
  for (std::size_t i = out.size(); i > 0; --i) {
    out[i - 1] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out;
}

bool isValidDigits(int digits) { return digits >= 6 && digits <= 8; }

bool isSixAsciiDigits(std::string_view code) {
  return code.size() == static_cast<std::size_t>(kTotpDigits) &&
         std::ranges::all_of(code, [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 3986 §2.3 unreserved characters pass; every other byte becomes %XX.
void appendPercentEncoded(std::string& out, std::string_view text) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    const bool unreserved = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
                            (b >= '0' && b <= '9') || b == '-' || b == '.' || b == '_' || b == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4U]);
      out.push_back(kHex[b & 15U]);
    }
  }
}

}  // namespace

std::string totpCode(std::string_view secret_bytes, std::int64_t step, int digits) {
  if (!isValidDigits(digits)) return {};
  auto key = crypto::HmacKey::create(crypto::Digest::Sha1, std::string(secret_bytes));
  if (!key) return {};
  return hotp(*key, step, digits);
}

std::int64_t stepAt(std::int64_t unix_seconds) {
  // RFC 6238 §4.2: T = floor((now - T0) / X); C++ division truncates, so correct negatives.
  std::int64_t step = unix_seconds / kTotpPeriodSeconds;
  if (unix_seconds % kTotpPeriodSeconds < 0) --step;
  return step;
}

std::optional<std::int64_t> matchStep(std::string_view secret, std::string_view code,
                                      std::int64_t now, int window) {
  // Refuse malformed codes before any HMAC, so garbage costs nothing.
  if (!isSixAsciiDigits(code) || window < 0 || window > kMaxTotpWindow) return std::nullopt;
  auto key = crypto::HmacKey::create(crypto::Digest::Sha1, std::string(secret));
  if (!key) return std::nullopt;
  const std::int64_t center = stepAt(now);
  // Every candidate is computed and compared, with no early exit, so the time taken does not
  // reveal which step (if any) matched.
  std::int64_t found = 0;
  bool matched = false;
  for (std::int64_t step = center - window; step <= center + window; ++step) {
    std::string expected = hotp(*key, step, kTotpDigits);
    const bool equal = !expected.empty() && crypto::constantTimeEquals(expected, code);
    found = (equal && !matched) ? step : found;
    matched = matched || equal;
    crypto::cleanse(expected);
  }
  if (!matched) return std::nullopt;
  return found;
}

std::string otpauthUri(std::string_view issuer, std::string_view account,
                       std::string_view base32_secret) {
  // Key Uri Format: the label is "issuer:account" with only the separating colon literal, so a
  // colon inside either part is encoded; the issuer parameter repeats the issuer for apps that
  // read only one of the two.
  std::string uri = "otpauth://totp/";
  if (!issuer.empty()) {
    appendPercentEncoded(uri, issuer);
    uri.push_back(':');
  }
  appendPercentEncoded(uri, account);
  uri += "?secret=";
  appendPercentEncoded(uri, base32_secret);
  if (!issuer.empty()) {
    uri += "&issuer=";
    appendPercentEncoded(uri, issuer);
  }
  uri += "&algorithm=SHA1&digits=" + std::to_string(kTotpDigits) +
         "&period=" + std::to_string(kTotpPeriodSeconds);
  return uri;
}

core::Result<std::string> newTotpSecret() { return crypto::randomBytes(kTotpSecretBytes); }

}  // namespace gatehouse::mfa
