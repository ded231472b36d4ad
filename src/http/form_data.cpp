#include "http/form_data.hpp"

#include "core/ascii.hpp"

namespace gatehouse::http {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr std::size_t kMaxBoundary = 70;           // RFC 2046 §5.1.1
constexpr std::size_t kMaxPartHeaderBytes = 1024;  // a name and a content type need far less

bool isOws(char c) { return c == ' ' || c == '\t'; }

// RFC 2046 §5.1.1 bchars: digits, letters, '()+_,-./:=? and a space, never last.
bool isBoundary(std::string_view b) {
  if (b.empty() || b.size() > kMaxBoundary || b.back() == ' ') return false;
  for (const char c : b) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("'()+_,-./:=? ").find(c) == std::string_view::npos) return false;
  }
  return true;
}

// The parameters after a header value's first ';' (RFC 9110 §5.6.6): name=token or
// name="quoted string" without a backslash, each name lower-cased. nullopt when malformed.
std::optional<Fields> parametersOf(std::string_view rest) {
  Fields out;
  std::size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (isOws(rest[i]) || rest[i] == ';')) ++i;
    if (i == rest.size()) break;
    const std::size_t name_start = i;
    while (i < rest.size() && core::isTokenChar(rest[i])) ++i;
    if (i == name_start || i == rest.size() || rest[i] != '=') return std::nullopt;
    std::string name = core::lowerAscii(rest.substr(name_start, i - name_start));
    ++i;
    std::string value;
    if (i < rest.size() && rest[i] == '"') {
      ++i;
      bool closed = false;
      while (i < rest.size()) {
        const char c = rest[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        // No escapes: browsers never write one (they percent-encode a quote in a name) and
        // readers differ on them (RFC 9110's quoted-pair against the HTML form's rules), so a
        // proxy could read another name than ours (a review). No boundary holds a backslash.
        if (c == '\\') return std::nullopt;
        value.push_back(c);
      }
      if (!closed) return std::nullopt;
    } else {
      const std::size_t start = i;
      while (i < rest.size() && core::isTokenChar(rest[i])) ++i;
      if (i == start) return std::nullopt;
      value = std::string(rest.substr(start, i - start));
    }
    while (i < rest.size() && isOws(rest[i])) ++i;
    if (i < rest.size() && rest[i] != ';') return std::nullopt;
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

// A part's Content-Disposition value: form-data and its field's name, else nullopt (a file
// too: its `filename`).
std::optional<std::string> fieldNameOf(std::string_view disposition) {
  const std::size_t semi = disposition.find(';');
  if (!core::equalsIgnoringCase(core::trimAscii(disposition.substr(0, semi)), "form-data"))
    return std::nullopt;
  if (semi == std::string_view::npos) return std::nullopt;
  auto params = parametersOf(disposition.substr(semi + 1));
  if (!params) return std::nullopt;
  std::optional<std::string> name;
  for (auto& [key, value] : *params) {
    // A file; or a name spelled as RFC 2231 has it, which some readers take over `name` (a review).
    if (key == "filename" || key == "filename*" || key == "name*") return std::nullopt;
    if (key == "name") {
      if (name) return std::nullopt;
      name = std::move(value);
    }
  }
  return name;
}

// A part's header section (without its closing empty line): its field's name, else nullopt.
std::optional<std::string> partName(std::string_view headers) {
  std::optional<std::string> name;
  while (!headers.empty()) {
    const std::size_t eol = headers.find("\r\n");
    const std::string_view line = headers.substr(0, eol);
    headers.remove_prefix(eol == std::string_view::npos ? headers.size() : eol + 2);
    // No folding (obsolete), no bare CR or LF, a token before the colon.
    if (line.empty() || isOws(line.front()) || line.find_first_of("\r\n") != std::string_view::npos)
      return std::nullopt;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    const std::string_view field = line.substr(0, colon);
    for (const char c : field)
      if (!core::isTokenChar(c)) return std::nullopt;
    const std::string_view value = core::trimAscii(line.substr(colon + 1));
    if (core::equalsIgnoringCase(field, "content-disposition")) {
      if (name) return std::nullopt;
      name = fieldNameOf(value);
      if (!name) return std::nullopt;
    } else if (core::equalsIgnoringCase(field, "content-transfer-encoding")) {
      // RFC 7578 §4.7: none is to be used; the identity ones change nothing.
      if (!core::equalsIgnoringCase(value, "7bit") && !core::equalsIgnoringCase(value, "8bit") &&
          !core::equalsIgnoringCase(value, "binary"))
        return std::nullopt;
    }
  }
  return name;
}

std::optional<std::string> boundaryOf(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  if (!core::equalsIgnoringCase(core::trimAscii(content_type.substr(0, semi)),
                                "multipart/form-data") ||
      semi == std::string_view::npos)
    return std::nullopt;
  auto params = parametersOf(content_type.substr(semi + 1));
  if (!params) return std::nullopt;
  std::optional<std::string> boundary;
  for (auto& [key, value] : *params) {
    if (key != "boundary") continue;
    if (boundary) return std::nullopt;
    boundary = std::move(value);
  }
  if (!boundary || !isBoundary(*boundary)) return std::nullopt;
  return boundary;
}

}  // namespace

std::optional<Fields> parseMultipartFormData(std::string_view content_type, std::string_view body) {
  const auto boundary = boundaryOf(content_type);
  if (!boundary) return std::nullopt;
  const std::string delimiter = "\r\n--" + *boundary;
  // The first delimiter opens the body or ends a preamble (RFC 2046 §5.1.1).
  std::size_t pos = 0;
  if (body.substr(0, delimiter.size() - 2) == std::string_view(delimiter).substr(2)) {
    pos = delimiter.size() - 2;
  } else {
    pos = body.find(delimiter);
    if (pos == std::string_view::npos) return std::nullopt;
    pos += delimiter.size();
  }
  Fields out;
  while (true) {
    // After a delimiter: "--" closes the body (an epilogue may follow, ignored), else optional
    // padding and CRLF open a part. Anything else means the boundary was in the content.
    if (body.substr(pos, 2) == "--") return out;
    while (pos < body.size() && isOws(body[pos])) ++pos;
    if (body.substr(pos, 2) != "\r\n") return std::nullopt;
    pos += 2;
    const std::size_t headers_end = body.substr(pos, kMaxPartHeaderBytes + 4).find("\r\n\r\n");
    if (headers_end == std::string_view::npos || headers_end > kMaxPartHeaderBytes)
      return std::nullopt;
    auto name = partName(body.substr(pos, headers_end));
    if (!name) return std::nullopt;
    const std::size_t content = pos + headers_end + 4;
    const std::size_t next = body.find(delimiter, content);
    if (next == std::string_view::npos) return std::nullopt;
    out.emplace_back(std::move(*name), std::string(body.substr(content, next - content)));
    pos = next + delimiter.size();
  }
}

}  // namespace gatehouse::http
