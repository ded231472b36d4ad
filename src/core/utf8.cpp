#include "core/utf8.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace gatehouse::core {
namespace {

// Decodes the sequence at `i`, advancing it; nullopt when it is not strict UTF-8.
std::optional<std::uint32_t> next(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 1;
  std::uint32_t cp = c;
  std::uint32_t min = 0;
  if (c < 0x80) {
    ++i;
    return cp;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1FU;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0FU;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07U;
    min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (i + len > s.size()) return std::nullopt;
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0U) != 0x80U) return std::nullopt;
    cp = (cp << 6U) | (cc & 0x3FU);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  i += len;
  return cp;
}

}  // namespace

std::optional<std::uint32_t> nextCodePoint(std::string_view text, std::size_t& i) {
  return next(text, i);
}

namespace {

using Range = std::pair<std::uint32_t, std::uint32_t>;  // inclusive

template <std::size_t N>
bool inRanges(std::uint32_t cp, const Range (&ranges)[N]) {
  return std::any_of(std::begin(ranges), std::end(ranges),
                     [cp](const Range& r) { return cp >= r.first && cp <= r.second; });
}

}  // namespace

std::optional<std::vector<std::uint32_t>> decodeUtf8(std::string_view text) {
  std::vector<std::uint32_t> out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto cp = next(text, i);
    if (!cp) return std::nullopt;
    out.push_back(*cp);
  }
  return out;
}

bool isValidUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (!next(text, i)) return false;
  }
  return true;
}

bool isInvisible(std::uint32_t cp) {
  static constexpr Range kRanges[] = {
      {0x0080, 0x00A0},   {0x00AD, 0x00AD}, {0x034F, 0x034F},   {0x061C, 0x061C},
      {0x115F, 0x1160},   {0x1680, 0x1680}, {0x17B4, 0x17B5},   {0x180B, 0x180F},
      {0x2000, 0x200F},   {0x2800, 0x2800}, {0x2028, 0x202F},   {0x205F, 0x206F},
      {0x3000, 0x3000},   {0x3164, 0x3164}, {0xFE00, 0xFE0F},   {0xFEFF, 0xFEFF},
      {0xFFA0, 0xFFA0},   {0xFFF0, 0xFFFB}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
      {0xE0000, 0xE0FFF},
  };
  return inRanges(cp, kRanges);
}

bool hidesOrReorders(std::uint32_t cp) {
  static constexpr Range kRanges[] = {
      {0x0080, 0x009F},   {0x00AD, 0x00AD},   {0x034F, 0x034F}, {0x061C, 0x061C},
      {0x115F, 0x1160},   {0x17B4, 0x17B5},   {0x200B, 0x200B}, {0x200E, 0x200F},
      {0x2028, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F}, {0x3164, 0x3164},
      {0xFEFF, 0xFEFF},   {0xFFA0, 0xFFA0},   {0xFFF9, 0xFFFB}, {0x1BCA0, 0x1BCA3},
      {0x1D173, 0x1D17A}, {0xE0000, 0xE007F},
  };
  return inRanges(cp, kRanges);
}

bool isStorableText(std::string_view text) {
  return text.find('\0') == std::string_view::npos && isValidUtf8(text);
}

std::string storableText(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t start = i;
    const auto cp = next(text, i);
    if (!cp || *cp < 0x20 || *cp == 0x7F) {
      if (out.size() + 1 > max_bytes) break;
      out += '?';
      i = start + 1;
      continue;
    }
    if (out.size() + (i - start) > max_bytes) break;
    out.append(text.substr(start, i - start));
  }
  return out;
}

std::string foldAsciiCaseMappings(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      out.push_back(text[i++]);
      continue;
    }
    const std::size_t start = i;
    const auto cp = next(text, i);
    if (!cp) {  // not UTF-8: not this function's to judge; kept as it is
      out.append(text.substr(start));
      break;
    }
    std::string_view ascii;
    switch (*cp) {
      case 0xDF:
      case 0x1E9E:
        ascii = "ss";
        break;
      case 0x130:
      case 0x131:
        ascii = "i";
        break;
      case 0x17F:
        ascii = "s";
        break;
      case 0x212A:
        ascii = "k";
        break;
      case 0xFB00:
        ascii = "ff";
        break;
      case 0xFB01:
        ascii = "fi";
        break;
      case 0xFB02:
        ascii = "fl";
        break;
      case 0xFB03:
        ascii = "ffi";
        break;
      case 0xFB04:
        ascii = "ffl";
        break;
      case 0xFB05:
      case 0xFB06:
        ascii = "st";
        break;
      default:
        break;
    }
    if (ascii.empty())
      out.append(text.substr(start, i - start));
    else
      out.append(ascii);
  }
  return out;
}

namespace {

// What shows nothing on its own: spaces (U+2800, the blank Braille pattern, too), joiners,
// Mongolian's selectors and vowel separator, variation selectors and the combining diacritical
// marks' blocks. Fine in a name; not all of it (a passkey attack: a name of U+200D alone showed
// as no name in the owner's list).
bool showsNothingAlone(std::uint32_t cp) {
  static constexpr Range kRanges[] = {
      {0x0020, 0x0020}, {0x00A0, 0x00A0}, {0x0300, 0x036F}, {0x1680, 0x1680},
      {0x180B, 0x180F}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x2000, 0x200D},
      {0x202F, 0x202F}, {0x205F, 0x205F}, {0x20D0, 0x20FF}, {0x2800, 0x2800},
      {0x3000, 0x3000}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xE0100, 0xE01EF},
  };
  return inRanges(cp, kRanges);
}

// Unicode's noncharacters: U+FDD0..U+FDEF and the last two of every plane.
bool isNoncharacter(std::uint32_t cp) {
  return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFEU) == 0xFFFEU;
}

}  // namespace

std::optional<std::string_view> displayTextProblem(std::string_view text) {
  constexpr std::string_view kHidden = "holds an invisible or direction-changing character";
  bool shows = false;
  // Tag characters belong only in the flag of a region: U+1F3F4, tags spelling it ("gbeng" for
  // England), U+E007F.
  enum class Flag { None, Started, Tags } flag = Flag::None;
  for (std::size_t i = 0; i < text.size();) {
    const auto cp = next(text, i);
    if (!cp) return "is not UTF-8";
    if (*cp < 0x20 || *cp == 0x7F) return "holds a control character";
    const bool tag = *cp >= 0xE0020 && *cp <= 0xE007E;
    const bool cancel = *cp == 0xE007F;
    if (flag != Flag::None && (tag || cancel)) {
      flag = cancel ? Flag::None : Flag::Tags;
      continue;
    }
    if (flag == Flag::Tags) return kHidden;  // tags that never end
    if (hidesOrReorders(*cp)) return kHidden;
    if (isNoncharacter(*cp)) return "holds a noncharacter";
    shows = shows || !showsNothingAlone(*cp);
    flag = *cp == 0x1F3F4 ? Flag::Started : Flag::None;
  }
  if (flag == Flag::Tags) return kHidden;
  if (!text.empty() && !shows) return kShowsNothing;
  return std::nullopt;
}

bool isDisplayText(std::string_view text) { return !displayTextProblem(text); }

}  // namespace gatehouse::core
