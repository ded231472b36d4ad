#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::core {

// The code points of strict UTF-8 (RFC 3629): nullopt for malformed sequences, overlong forms,
// surrogates and anything above U+10FFFF.
std::optional<std::vector<std::uint32_t>> decodeUtf8(std::string_view text);

// The code point of the strict UTF-8 sequence at `i` of `text` (i < text.size()), advancing `i`
// past it; nothing, and `i` unmoved, when none starts there (an overlong form, a surrogate, past
// U+10FFFF, a cut or broken sequence).
std::optional<std::uint32_t> nextCodePoint(std::string_view text, std::size_t& i);

// True when `text` is strict UTF-8 (as decodeUtf8 accepts), without allocating.
bool isValidUtf8(std::string_view text);

// Code points that render as nothing (or as a space) or reorder text, so two different strings
// look the same on screen: Unicode's Default_Ignorable_Code_Point set, the C1 controls and the
// non-ASCII spaces.
bool isInvisible(std::uint32_t code_point);

// Code points that hide or reorder text and that no language needs to write a name: the C1
// controls, the bidirectional marks, embeddings, overrides and isolates, the zero-width space,
// the line and paragraph separators, the invisible operators, the byte-order mark, the
// interlinear annotation marks and the tag characters. Not the joiners (U+200C, U+200D), the
// variation selectors or the other spaces, which emoji, Persian, CJK and French names use.
bool hidesOrReorders(std::uint32_t code_point);

// A name people read (a passkey's, a factor's, a key's, a client's): strict UTF-8 without C0
// controls, DEL, a code point that hides or reorders text or a noncharacter, and not only
// spaces, joiners and marks (displayTextProblem).
bool isDisplayText(std::string_view text);

// `text` (strict UTF-8) with each code point whose case mapping is ASCII letters replaced by
// those letters in lower case: U+00DF and U+1E9E "ss", U+0130 and U+0131 "i", U+017F "s", the
// Kelvin sign U+212A "k", the ligatures U+FB00 to U+FB06 "ff", "fi", "fl", "ffi", "ffl", "st",
// "st". An application comparing by Unicode's case rules (Python's upper(), Java's
// equalsIgnoreCase) reads "/ſecret" as "/SECRET": matched folded, a rule on /secret covers it.
std::string foldAsciiCaseMappings(std::string_view text);

// True when a text column can hold `text` as it is: strict UTF-8 without NUL (PostgreSQL's text
// holds neither invalid UTF-8 nor NUL; a value it cannot hold is nobody's name or id).
bool isStorableText(std::string_view text);

// `text` as it may be stored: each byte that is not part of strict UTF-8, and each control
// character, becomes '?', and the result is cut to at most `max_bytes` at a character's end.
// For what a client sends unchecked (a User-Agent): PostgreSQL's text refuses invalid UTF-8 and
// NUL, and a byte count cut a character in half (found by a review: sign-ins answered 500 and
// their audit records were lost).
std::string storableText(std::string_view text, std::size_t max_bytes);

// Why `text` is not display text, the first problem found: "is not UTF-8", "holds a control
// character", "holds an invisible or direction-changing character", "holds a noncharacter", or
// (text that is not empty) "shows nothing (only spaces, joiners or combining marks)"; nullopt when
// it is.
std::optional<std::string_view> displayTextProblem(std::string_view text);
inline constexpr std::string_view kShowsNothing =
    "shows nothing (only spaces, joiners or combining marks)";

}  // namespace gatehouse::core
