#include "mail/mime.hpp"

#include <ctime>

#include "core/base64url.hpp"
#include "core/utf8.hpp"
#include "crypto/random.hpp"

namespace gatehouse::mail {
namespace {

// Longer ASCII text is folded as encoded-words: a header line stays far below RFC 5322's 998.
constexpr std::size_t kPlainHeaderText = 900;

bool hasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool isAscii(std::string_view s) {
  for (const unsigned char c : s) {
    if (c >= 0x80 || (c < 0x20 && c != '\t')) return false;
  }
  return true;
}

// RFC 2047 encoded-words (B encoding), each at most 75 characters on its own folded line, split
// between UTF-8 sequences (`text` is valid UTF-8); plain text when it is short printable ASCII.
std::string headerText(std::string_view text) {
  if (isAscii(text) && text.size() <= kPlainHeaderText) return std::string(text);
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + 45);  // 45 bytes → 60 base64 characters
    // Back to a character's first byte; a sequence is at most 4 bytes, so this stays past start.
    while (end > start + 1 && end < text.size() &&
           (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + core::base64Encode(text.substr(start, end - start)) + "?=";
    start = end;
  }
  return out;
}

// Base64 in lines of 76 characters (RFC 2045 §6.8).
std::string base64Lines(std::string_view bytes) {
  const std::string encoded = core::base64Encode(bytes);
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); i += 76) out += encoded.substr(i, 76) + "\r\n";
  return out;
}

std::string rfc5322Date(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buffer;
}

// The display name and address of a header value; a name that is not plain ASCII is encoded.
std::optional<std::string> addressHeader(std::string_view value) {
  auto address = addressOf(value);
  if (!address) return std::nullopt;
  const auto open = value.rfind('<');
  if (open == std::string_view::npos) return *address;
  std::string_view name = value.substr(0, open);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  if (name.empty()) return "<" + *address + ">";
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
  }
  if (name.find_first_of("\"\\") != std::string_view::npos) return std::nullopt;
  const std::string shown = isAscii(name) ? "\"" + std::string(name) + "\"" : headerText(name);
  return shown + " <" + *address + ">";
}

}  // namespace

std::optional<std::string> addressOf(std::string_view value) {
  if (hasLineBreak(value)) return std::nullopt;
  std::string_view address = value;
  const auto open = value.rfind('<');
  if (open != std::string_view::npos) {
    const auto close = value.find('>', open);
    if (close == std::string_view::npos || close + 1 != value.size()) return std::nullopt;
    address = value.substr(open + 1, close - open - 1);
  }
  const auto at = address.find('@');
  if (address.empty() || at == 0 || at == std::string_view::npos || at + 1 == address.size() ||
      address.find('@', at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  for (const unsigned char c : address) {
    if (c <= ' ' || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '\\' ||
        c == 0x7F) {
      return std::nullopt;
    }
  }
  return std::string(address);
}

core::Result<std::string> compose(const Mail& mail, std::int64_t unix_seconds) {
  if (hasLineBreak(mail.subject))
    return core::makeError(core::Errc::InvalidArgument, "a line break in the subject");
  if (!core::isValidUtf8(mail.subject) || !core::isValidUtf8(mail.from) ||
      !core::isValidUtf8(mail.text) || !core::isValidUtf8(mail.html)) {
    return core::makeError(core::Errc::InvalidArgument, "text that is not UTF-8");
  }
  auto from = addressHeader(mail.from);
  auto to = addressHeader(mail.to);
  if (!from || !to) return core::makeError(core::Errc::InvalidArgument, "not one address");
  auto from_address = addressOf(mail.from);
  auto boundary = crypto::randomToken(18);
  auto id = crypto::randomToken(18);
  if (!boundary || !id) return core::makeError(core::Errc::Internal, "no randomness");
  const std::string domain = from_address->substr(from_address->find('@') + 1);
  // A boundary of base64url characters after "=_" cannot occur in base64 bodies.
  const std::string b = "=_gatehouse_" + *boundary;
  std::string out;
  out += "From: " + *from + "\r\n";
  out += "To: " + *to + "\r\n";
  out += "Subject: " + headerText(mail.subject) + "\r\n";
  out += "Date: " + rfc5322Date(unix_seconds) + "\r\n";
  out += "Message-ID: <" + *id + "@" + domain + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Auto-Submitted: auto-generated\r\n";
  out += "Content-Type: multipart/alternative; boundary=\"" + b + "\"\r\n";
  out += "\r\n";
  out += "--" + b + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  out += base64Lines(mail.text);
  out += "--" + b + "\r\n";
  out += "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  out += base64Lines(mail.html);
  out += "--" + b + "--\r\n";
  return out;
}

}  // namespace gatehouse::mail
