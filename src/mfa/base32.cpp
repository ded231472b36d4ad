#include "mfa/base32.hpp"

#include <array>
#include <cstdint>

namespace gatehouse::mfa {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

constexpr std::array<std::int8_t, 256> makeDecodeTable() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    const auto c = static_cast<unsigned char>(kAlphabet[i]);
    table[c] = static_cast<std::int8_t>(i);
    if (c >= 'A' && c <= 'Z') table[c - 'A' + 'a'] = static_cast<std::int8_t>(i);
  }
  return table;
}
constexpr auto kDecode = makeDecodeTable();

// RFC 4648 §6: the characters a final group of 1..4 bytes takes before its padding. Remainders
// 1, 3 and 6 cannot come from whole bytes.
constexpr bool isValidRemainder(std::size_t rest) {
  return rest == 0 || rest == 2 || rest == 4 || rest == 5 || rest == 7;
}

}  // namespace

std::string base32Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  unsigned bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8U) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kAlphabet[(buffer >> bits) & 31U]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31U]);
  return out;
}

std::optional<std::string> base32Decode(std::string_view text) {
  // RFC 4648 §6: padding is optional here, but when present it must complete the final group.
  const std::size_t data_len = text.find_last_not_of('=') + 1;  // npos + 1 == 0 for all '='
  const std::size_t padding = text.size() - data_len;
  const std::size_t rest = data_len % 8;
  if (!isValidRemainder(rest)) return std::nullopt;
  if (padding != 0 && (rest == 0 || (data_len + padding) % 8 != 0)) return std::nullopt;

  std::string out;
  out.reserve(data_len * 5 / 8);
  std::uint32_t buffer = 0;
  unsigned bits = 0;
  for (std::size_t i = 0; i < data_len; ++i) {
    const std::int8_t v = kDecode[static_cast<unsigned char>(text[i])];
    if (v < 0) return std::nullopt;  // includes a '=' before the end
    buffer = ((buffer << 5U) | static_cast<std::uint8_t>(v)) & 0xFFFFU;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFFU));
    }
  }
  // RFC 4648 §3.5: canonical encodings leave the pad bits zero.
  if ((buffer & ((1U << bits) - 1U)) != 0) return std::nullopt;
  return out;
}

}  // namespace gatehouse::mfa
