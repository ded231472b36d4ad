#include "ui/return_to.hpp"

#include <algorithm>
#include <cctype>

#include "core/ascii.hpp"

namespace gatehouse::ui {
namespace {

bool plainText(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u <= 0x20 || u == 0x7f || ch == '\\';
  });
}

}  // namespace

std::optional<std::string> originOf(std::string_view url) {
  if (!plainText(url)) return std::nullopt;
  const auto colon = url.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string scheme = core::lowerAscii(url.substr(0, colon));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(colon + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  // A host name, an IPv4 or a bracketed IPv6 address, and a port: nothing else.
  if (!std::all_of(authority.begin(), authority.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '-' ||
               ch == ':' || ch == '[' || ch == ']';
      }))
    return std::nullopt;
  // host[:port] or [v6][:port]: brackets only around a whole IPv6 address; the port, when
  // present, digits only and at most 65535.
  const bool v6 = authority.front() == '[';
  const auto close = authority.find(']');
  if (v6 ? (close == std::string_view::npos || authority.find('[', 1) != std::string_view::npos ||
            authority.find(']', close + 1) != std::string_view::npos ||
            (close + 1 < authority.size() && authority[close + 1] != ':'))
         : (close != std::string_view::npos || authority.find('[') != std::string_view::npos))
    return std::nullopt;
  const auto port_colon = v6 ? authority.find(':', close) : authority.find(':');
  if (port_colon != std::string_view::npos) {
    const auto port = authority.substr(port_colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
        std::stoi(std::string(port)) > 65535)
      return std::nullopt;
    if (port_colon == 0) return std::nullopt;
  }
  return scheme + "://" + core::lowerAscii(authority);
}

std::optional<std::string> ReturnTo::check(std::string_view candidate) const {
  if (candidate.empty() || candidate.size() > kMaxBytes || !plainText(candidate))
    return std::nullopt;
  if (candidate.front() == '/') {
    // A path of ours: "//evil" and "/\evil" are another host to a browser.
    if (candidate.size() > 1 && (candidate[1] == '/' || candidate[1] == '\\')) return std::nullopt;
    return std::string(candidate);
  }
  const auto origin = originOf(candidate);
  if (!origin) return std::nullopt;
  if (*origin == own_ || std::find(allowed_.begin(), allowed_.end(), *origin) != allowed_.end())
    return std::string(candidate);
  return std::nullopt;
}

}  // namespace gatehouse::ui
