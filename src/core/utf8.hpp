#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace gatehouse::core {

// The code points of strict UTF-8 (RFC 3629): nullopt for malformed sequences, overlong forms,
// surrogates and anything above U+10FFFF.
std::optional<std::vector<std::uint32_t>> decodeUtf8(std::string_view text);

// True when `text` is strict UTF-8 (as decodeUtf8 accepts), without allocating.
bool isValidUtf8(std::string_view text);

}  // namespace gatehouse::core
