#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::core {

// base64url without padding (RFC 4648 §5, as JWS requires in RFC 7515 §2).
std::string base64urlEncode(std::string_view bytes);

// Strict decode: only [A-Za-z0-9_-], no padding, no whitespace, and the unused trailing bits must
// be zero, so every byte string has exactly one accepted encoding. Returns nullopt on any
// violation.
std::optional<std::string> base64urlDecode(std::string_view text);

// The decoded size of `text` if it is well-formed in length (nullopt when size % 4 == 1).
std::optional<std::size_t> base64urlDecodedSize(std::string_view text);
// Strict decode into `out` (which must hold base64urlDecodedSize bytes), for callers that keep
// the result on the stack. Returns the number of bytes written; nullopt as base64urlDecode.
std::optional<std::size_t> base64urlDecodeInto(std::string_view text, char* out,
                                               std::size_t capacity);

// Standard base64 with padding (RFC 4648 §4), as HTTP Basic credentials use it. Decoding refuses
// characters outside the alphabet, misplaced padding and lengths not a multiple of four.
std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);
// Standard base64 without padding, strictly (as base64urlDecode, in the standard alphabet): the
// PHC strings' salts and hashes; base64Decode after its padding.
std::optional<std::string> base64DecodeUnpadded(std::string_view text);

// Hex helpers for logs of non-secret digests and for tests.
std::string hexEncode(std::string_view bytes);
std::optional<std::string> hexDecode(std::string_view text);

}  // namespace gatehouse::core
