#include "core/uri_path.hpp"

#include <cctype>
#include <vector>

#include "core/ascii.hpp"
#include "core/utf8.hpp"

namespace gatehouse::core {
namespace {

bool forbiddenByte(unsigned char c) { return c < 0x20 || c == 0x7F || c == '\\'; }

}  // namespace

std::optional<std::string> normalizeRequestPath(std::string_view target) {
  // RFC 9112 §3.2.2: absolute-form; keep only the path.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (startsWithIgnoringCase(target, scheme)) {
      target.remove_prefix(scheme.size());
      const auto slash = target.find('/');
      const auto end = target.find('?');
      if (slash == std::string_view::npos || (end != std::string_view::npos && end < slash)) {
        target = "/";
      } else {
        target.remove_prefix(slash);
      }
      break;
    }
  }
  // A raw '#' is never part of a request target (RFC 9112 §3.2): some servers keep it in the
  // path, others cut there, so it is refused rather than guessed.
  if (target.find('#') != std::string_view::npos) return std::nullopt;
  if (const auto end = target.find('?'); end != std::string_view::npos)
    target = target.substr(0, end);
  if (!target.starts_with('/')) return std::nullopt;

  // Decode once; escapes of separators and of '%' itself (double encoding) are refused.
  std::string decoded;
  decoded.reserve(target.size());
  for (std::size_t i = 0; i < target.size(); ++i) {
    const auto c = static_cast<unsigned char>(target[i]);
    if (forbiddenByte(c)) return std::nullopt;
    if (c != '%') {
      decoded.push_back(static_cast<char>(c));
      continue;
    }
    if (i + 2 >= target.size()) return std::nullopt;
    const int hi = hexValue(target[i + 1]);
    const int lo = hexValue(target[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const auto byte = static_cast<unsigned char>(hi * 16 + lo);
    // An escaped '?' or '#' is refused too: a hop that decodes the path and splits it again
    // there (Apache's rewrite, CVE-2024-38474) serves "/admin%3F/x" as "/admin" (found by an
    // outside attack: a rule on /admin/* did not hold it).
    if (forbiddenByte(byte) || byte == '/' || byte == '%' || byte == '?' || byte == '#')
      return std::nullopt;
    decoded.push_back(static_cast<char>(byte));
    i += 2;
  }
  if (!isValidUtf8(decoded)) return std::nullopt;
  // Letters whose Unicode case is an ASCII letter become that letter: an application folding by
  // Unicode's rules reads "/ſecret" as "/SECRET" (found by an outside attack), and a German or
  // Turkish path ("/straße", "/kayıt") is matched, not refused.
  if (decoded.find_first_of("\xC3\xC4\xC5\xE1\xE2\xEF") != std::string::npos)
    decoded = foldAsciiCaseMappings(decoded);

  // Dot segments and empty segments are refused, not resolved: proxies and applications resolve
  // them differently ("/reports/..;/x" is /x to one and inside /reports to another; "//" is
  // merged by some and kept by others), and browsers never send them.
  std::vector<std::string_view> segments;
  std::string_view rest(decoded);
  rest.remove_prefix(1);  // the leading '/'
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    rest = last ? std::string_view() : rest.substr(slash + 1);
    segment = segment.substr(0, segment.find(';'));
    if (segment == "." || segment == "..") return std::nullopt;
    // A segment ending in a dot or a space is the same file as without it to IIS and Windows
    // ("/vault./x" is "/vault/x"): refused rather than left to escape a rule.
    if (!segment.empty() && (segment.back() == '.' || segment.back() == ' ')) return std::nullopt;
    if (segment.empty()) {
      if (last) continue;   // what follows a trailing slash ("/a/;x")
      return std::nullopt;  // an empty segment inside the path: "a//b", "a/;x/b"
    }
    segments.push_back(segment);
  }
  std::string out;
  out.reserve(decoded.size());
  for (const auto segment : segments) {
    out.push_back('/');
    for (char ch : segment) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
      out.push_back(ch);
    }
  }
  if (out.empty()) out.push_back('/');  // not = "/": GCC 12 warns a false -Wrestrict on it
  return out;
}

std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4U]);
      out.push_back(kHex[c & 15U]);
    }
  }
  return out;
}

std::optional<std::string> percentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = core::hexValue(text[i + 1]);
      const int lo = core::hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>((hi << 4) | lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace gatehouse::core
