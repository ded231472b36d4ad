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

// "." or ".." as a browser reads a path segment: "%2e" is a dot there too.
bool dotSegment(std::string_view segment) {
  const std::string lower = core::lowerAscii(segment);
  return lower == "." || lower == "%2e" || lower == ".." || lower == ".%2e" || lower == "%2e." ||
         lower == "%2e%2e";
}

// A path of ours that stays one: no empty segment ("//host" is another host to a browser) and
// no dot segment, which a browser or a proxy resolves away ("/.//evil" becomes "//evil", and a
// proxy that collapses it into a redirect of its own sends the browser off-site).
bool plainPath(std::string_view candidate) {
  const std::string_view path = candidate.substr(0, candidate.find_first_of("?#"));
  std::size_t at = 1;
  while (at <= path.size()) {
    const auto slash = path.find('/', at);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    const std::string_view segment = path.substr(at, end - at);
    if ((segment.empty() && slash != std::string_view::npos) || dotSegment(segment)) return false;
    at = end + 1;
  }
  return true;
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
    // A path of ours: "//evil" is another host to a browser (and "/\evil": a backslash is not
    // plain text above), and so is "/.//evil" once its dot segment is resolved.
    if (!plainPath(candidate)) return std::nullopt;
    return std::string(candidate);
  }
  const auto origin = originOf(candidate);
  if (!origin) return std::nullopt;
  if (*origin == own_) {
    // The same for the path of an absolute URL of ours: "https://ours//evil" is a path of ours
    // (found by a review). An allowed application's paths are its own: forward-auth sends a
    // browser back to them as they were asked for, "/files//a" included (a second review).
    const std::string_view rest = candidate.substr(candidate.find("://") + 3);
    if (const auto path = rest.find_first_of("/?#");
        path != std::string_view::npos && rest[path] == '/' && !plainPath(rest.substr(path)))
      return std::nullopt;
    return std::string(candidate);
  }
  if (std::find(allowed_.begin(), allowed_.end(), *origin) != allowed_.end())
    return std::string(candidate);
  return std::nullopt;
}

}  // namespace gatehouse::ui
