#include "mfa/qr.hpp"

#include <cerrno>
#include <memory>

#include "dynlib/libqrencode.hpp"

namespace gatehouse::mfa {
namespace {

struct QrcodeFree {
  const dynlib::LibQrencode* qr;
  void operator()(QRcode* p) const noexcept { qr->QRcode_free(p); }
};
using QrcodePtr = std::unique_ptr<QRcode, QrcodeFree>;

// ISO/IEC 18004 §6.3.8: at least four light modules around the symbol.
constexpr int kQuietZone = 4;

bool isDark(const QRcode& qr, int x, int y) {
  // libqrencode: bit 0 of each module byte is 1 for a dark module.
  return (qr.data[static_cast<std::size_t>(y) * static_cast<std::size_t>(qr.width) +
                  static_cast<std::size_t>(x)] &
          1U) != 0;
}

// A 1-module-high rectangle of `run` modules from (x, y): "M4 4h7v1h-7z".
void appendRun(std::string& svg, int x, int y, int run) {
  const std::string len = std::to_string(run);
  svg += 'M';
  svg += std::to_string(x);
  svg += ' ';
  svg += std::to_string(y);
  svg += 'h';
  svg += len;
  svg += "v1h-";
  svg += len;
  svg += 'z';
}

}  // namespace

core::Result<std::string> qrSvg(std::string_view text) {
  if (text.empty()) return core::makeError(core::Errc::InvalidArgument, "empty QR text");
  if (text.size() > kMaxQrTextBytes)
    return core::makeError(core::Errc::InvalidArgument, "QR text too long");
  // Byte mode (QRcode_encodeData) encodes the text as given, NULs included; version 0 lets the
  // library choose the smallest symbol.
  auto lib = dynlib::libqrencode();
  if (!lib) return tl::unexpected(lib.error());
  errno = 0;
  const QrcodePtr qr((*lib)->QRcode_encodeData(static_cast<int>(text.size()),
                                               reinterpret_cast<const unsigned char*>(text.data()),
                                               0, QR_ECLEVEL_M),
                     QrcodeFree{*lib});
  if (!qr) {
    if (errno == ERANGE)
      return core::makeError(core::Errc::InvalidArgument, "QR text does not fit a QR code");
    return core::makeError(core::Errc::Internal, "QRcode_encodeData failed");
  }
  const int width = qr->width;
  const std::string size = std::to_string(width + 2 * kQuietZone);
  std::string svg = R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 )" + size + " " + size +
                    R"(" shape-rendering="crispEdges"><rect width=")" + size + R"(" height=")" +
                    size + R"(" fill="#fff"/><path fill="#000" d=")";
  // One rectangle per horizontal run of dark modules keeps the path short.
  for (int y = 0; y < width; ++y) {
    for (int x = 0; x < width;) {
      if (!isDark(*qr, x, y)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < width && isDark(*qr, x + run, y)) ++run;
      appendRun(svg, x + kQuietZone, y + kQuietZone, run);
      x += run;
    }
  }
  svg += R"("/></svg>)";
  return svg;
}

}  // namespace gatehouse::mfa
