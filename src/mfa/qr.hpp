#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::mfa {

// Longest text qrSvg encodes; an otpauth URI is far shorter.
inline constexpr std::size_t kMaxQrTextBytes = 1024;

// `text` as a QR code (byte mode, error correction level M) in a compact standalone SVG: one
// <path> of the dark modules over a white background, a 4-module quiet zone, a viewBox in module
// units and nothing else (no script, no external reference). Thread-safe. InvalidArgument when
// `text` is empty or longer than kMaxQrTextBytes; Internal when libqrencode fails.
[[nodiscard]] core::Result<std::string> qrSvg(std::string_view text);

}  // namespace gatehouse::mfa
