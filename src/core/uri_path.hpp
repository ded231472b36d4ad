#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::core {

// The path of a request target in the one spelling that route rules are matched against
// (RFC 3986 §6.2.2 and §5.2.4, made stricter for authorization):
// - an absolute-form target ("http://host/p") is reduced to its path; the query is dropped;
// - every percent-escape is decoded once; one that decodes to '/', '\', '%', NUL or another
//   control character is refused, as are a literal '\', '#' or control character and bad UTF-8
//   (backends disagree on what those mean, so no spelling of them can be matched safely);
// - ";parameters" are dropped from each segment (as servlet containers do);
// - "." and ".." segments (also "..;x" and escaped ones) and empty segments ("//") are refused:
//   applications resolve them differently, and browsers never send them;
// - a trailing slash is dropped; ASCII letters are lower-cased (rules are case-insensitive, so a
//   backend that ignores case cannot be reached by changing it), and a letter whose Unicode case
//   is ASCII ("ſ", "ß", the Kelvin sign) becomes those letters (foldAsciiCaseMappings).
// nullopt when the target cannot be normalised safely: callers refuse the request.
std::optional<std::string> normalizeRequestPath(std::string_view target);

// `text` percent-encoded for a query component or a form value: RFC 3986's unreserved characters
// (letters, digits, "-._~") stay, every other byte becomes %XX.
std::string percentEncode(std::string_view text);
// Percent-decoding; `plus_is_space` for form encoding. nullopt for malformed escapes.
std::optional<std::string> percentDecode(std::string_view text, bool plus_is_space);

}  // namespace gatehouse::core
