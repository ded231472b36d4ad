#include "mfa/qr.hpp"

#include <gtest/gtest.h>

#include "core/ascii.hpp"

namespace gatehouse::mfa {
namespace {

std::size_t count(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string_view::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

std::string pathData(const std::string& svg) {
  const auto start = svg.find(" d=\"");
  if (start == std::string::npos) return {};
  return svg.substr(start + 4, svg.find('"', start + 4) - start - 4);
}

constexpr std::string_view kUri =
    "otpauth://totp/Gatehouse:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Gatehouse&"
    "algorithm=SHA1&digits=6&period=30";

TEST(QrSvg, IsACompactStandaloneSvg) {
  const auto svg = qrSvg(kUri);
  ASSERT_TRUE(svg) << svg.error().message;
  EXPECT_TRUE(svg->starts_with("<svg")) << *svg;
  EXPECT_TRUE(svg->ends_with("</svg>")) << *svg;
  EXPECT_NE(svg->find("viewBox=\"0 0 "), std::string::npos);
  EXPECT_NE(svg->find("shape-rendering=\"crispEdges\""), std::string::npos);
  EXPECT_EQ(count(*svg, "<path"), 1U);
  const std::string l = core::lowerAscii(*svg);
  EXPECT_EQ(l.find("script"), std::string::npos);
  EXPECT_EQ(l.find("href"), std::string::npos);
  EXPECT_EQ(l.find("url("), std::string::npos);
  EXPECT_EQ(l.find("<image"), std::string::npos);
  EXPECT_FALSE(pathData(*svg).empty());
}

TEST(QrSvg, ViewBoxIsTheSymbolPlusAFourModuleQuietZone) {
  // Five bytes at level M fit version 1: 21 modules, plus 4 on each side.
  const auto svg = qrSvg("hello");
  ASSERT_TRUE(svg);
  EXPECT_NE(svg->find("viewBox=\"0 0 29 29\""), std::string::npos) << *svg;
  // The top-left finder pattern starts at the quiet zone's edge with a 7-module run.
  EXPECT_TRUE(pathData(*svg).starts_with("M4 4h7v1h-7z")) << pathData(*svg);
}

TEST(QrSvg, DifferentInputsGiveDifferentPaths) {
  const auto a = qrSvg(kUri);
  const auto b = qrSvg("otpauth://totp/Gatehouse:bob?secret=MZXW6YTBOI&issuer=Gatehouse");
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_NE(pathData(*a), pathData(*b));
  EXPECT_EQ(qrSvg(kUri).value(), *a);  // deterministic
}

TEST(QrSvg, RefusesOverLongAndEmptyInput) {
  EXPECT_TRUE(qrSvg(std::string(kMaxQrTextBytes, 'a')));
  const auto too_long = qrSvg(std::string(kMaxQrTextBytes + 1, 'a'));
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, core::Errc::InvalidArgument);
  const auto empty = qrSvg("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, core::Errc::InvalidArgument);
}

}  // namespace
}  // namespace gatehouse::mfa
