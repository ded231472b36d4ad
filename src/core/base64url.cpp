#include "core/base64url.hpp"

#include <array>
#include <cstdint>

#include "core/ascii.hpp"

namespace gatehouse::core {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> makeDecodeTable() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}
constexpr auto kDecode = makeDecodeTable();

}  // namespace

std::string base64urlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  const auto byteAt = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (byteAt(i) << 16U) | (byteAt(i + 1) << 8U) | byteAt(i + 2);
    out.push_back(kAlphabet[(n >> 18U) & 63U]);
    out.push_back(kAlphabet[(n >> 12U) & 63U]);
    out.push_back(kAlphabet[(n >> 6U) & 63U]);
    out.push_back(kAlphabet[n & 63U]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = byteAt(i) << 16U;
    out.push_back(kAlphabet[(n >> 18U) & 63U]);
    out.push_back(kAlphabet[(n >> 12U) & 63U]);
  } else if (rest == 2) {
    const std::uint32_t n = (byteAt(i) << 16U) | (byteAt(i + 1) << 8U);
    out.push_back(kAlphabet[(n >> 18U) & 63U]);
    out.push_back(kAlphabet[(n >> 12U) & 63U]);
    out.push_back(kAlphabet[(n >> 6U) & 63U]);
  }
  return out;
}

std::optional<std::size_t> base64urlDecodedSize(std::string_view text) {
  const std::size_t rest = text.size() % 4;
  if (rest == 1) return std::nullopt;
  return text.size() / 4 * 3 + (rest == 0 ? 0 : rest - 1);
}

std::optional<std::size_t> base64urlDecodeInto(std::string_view text, char* out,
                                               std::size_t capacity) {
  const auto size = base64urlDecodedSize(text);
  if (!size || *size > capacity) return std::nullopt;
  // Indexed writes into a buffer sized once: this sits on the token hot path.
  const auto value = [&](std::size_t i) { return kDecode[static_cast<unsigned char>(text[i])]; };
  std::size_t o = 0;
  std::size_t i = 0;
  for (; i + 4 <= text.size(); i += 4) {
    const int a = value(i);
    const int b = value(i + 1);
    const int c = value(i + 2);
    const int d = value(i + 3);
    if ((a | b | c | d) < 0) return std::nullopt;
    const auto n = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6) | d);
    out[o++] = static_cast<char>(n >> 16U);
    out[o++] = static_cast<char>((n >> 8U) & 0xFFU);
    out[o++] = static_cast<char>(n & 0xFFU);
  }
  const std::size_t rest = text.size() - i;
  if (rest >= 2) {
    const int a = value(i);
    const int b = value(i + 1);
    const int c = rest == 3 ? value(i + 2) : 0;
    if ((a | b | c) < 0) return std::nullopt;
    const auto n = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6));
    // RFC 4648 §3.5: canonical encodings leave the pad bits zero.
    if ((rest == 2 && (n & 0xFFFFU) != 0) || (rest == 3 && (n & 0xFFU) != 0)) return std::nullopt;
    out[o++] = static_cast<char>(n >> 16U);
    if (rest == 3) out[o++] = static_cast<char>((n >> 8U) & 0xFFU);
  }
  return o;
}

std::optional<std::string> base64urlDecode(std::string_view text) {
  const auto size = base64urlDecodedSize(text);
  if (!size) return std::nullopt;
  std::string out(*size, '\0');
  if (!base64urlDecodeInto(text, out.data(), out.size())) return std::nullopt;
  return out;
}

std::string base64Encode(std::string_view bytes) {
  std::string out = base64urlEncode(bytes);
  for (char& c : out) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  // At most two '=' (a length of 4n + 2 is the shortest a group can leave).
  while (!text.empty() && text.back() == '=' && text.size() % 4 != 2) text.remove_suffix(1);
  return base64DecodeUnpadded(text);
}

std::optional<std::string> base64DecodeUnpadded(std::string_view text) {
  std::string url(text);
  for (char& c : url) {
    if (c == '-' || c == '_') return std::nullopt;  // not in the standard alphabet
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return base64urlDecode(url);
}

std::string hexEncode(std::string_view bytes) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHex[b >> 4U]);
    out.push_back(kHex[b & 15U]);
  }
  return out;
}

std::optional<std::string> hexDecode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = hexValue(text[i]);
    const int lo = hexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

}  // namespace gatehouse::core
