#include "op/uris.hpp"

#include <algorithm>
#include <cctype>

#include "core/uri_path.hpp"
#include "ui/return_to.hpp"

namespace gatehouse::op {
namespace {

bool isLower(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char ch) { return std::isupper(static_cast<unsigned char>(ch)) != 0; });
}

// An http URI to a loopback IP literal without its port ("http://127.0.0.1/cb" for
// "http://127.0.0.1:5000/cb"); nullopt for any other URI, or a port that is not 1 to 65535.
std::optional<std::string> loopbackWithoutPort(std::string_view uri) {
  for (const std::string_view host :
       {std::string_view("http://127.0.0.1"), std::string_view("http://[::1]")}) {
    if (!uri.starts_with(host)) continue;
    std::string_view rest = uri.substr(host.size());
    if (rest.starts_with(':')) {
      std::size_t end = 1;
      while (end < rest.size() && std::isdigit(static_cast<unsigned char>(rest[end])) != 0) ++end;
      const std::string_view digits = rest.substr(1, end - 1);
      if (digits.empty() || digits.size() > 5 || digits.front() == '0') return std::nullopt;
      if (std::stoul(std::string(digits)) > 65535) return std::nullopt;
      rest = rest.substr(end);
    }
    if (!rest.empty() && rest.front() != '/' && rest.front() != '?') return std::nullopt;
    return std::string(host) + std::string(rest);
  }
  return std::nullopt;
}

// The parameters an authorization answer adds (RFC 6749 §4.1.2 and §4.1.2.1, RFC 9207).
constexpr std::string_view kAnswerParameters[] = {
    "code", "state", "iss", "error", "error_description", "error_uri"};

// The first parameter of `uri`'s query that an answer adds too: registered there, an answer would
// carry it twice, and many libraries read the first, the registered one (an outside attack
// registered "?state=fixed&code=fixed").
std::optional<std::string> answerParameterIn(std::string_view uri) {
  const auto q = uri.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = uri.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    // As a client library reads it: percent-decoded, '+' a space.
    const std::string_view raw = pair.substr(0, pair.find('='));
    const std::string name = core::percentDecode(raw, true).value_or(std::string(raw));
    if (std::find(std::begin(kAnswerParameters), std::end(kAnswerParameters), name) !=
        std::end(kAnswerParameters))
      return name;
  }
  return std::nullopt;
}

}  // namespace

bool redirectUriRegistered(const std::vector<std::string>& registered, std::string_view asked) {
  if (std::find(registered.begin(), registered.end(), asked) != registered.end()) return true;
  const auto bare = loopbackWithoutPort(asked);
  if (!bare) return false;
  return std::any_of(registered.begin(), registered.end(),
                     [&bare](const std::string& uri) { return loopbackWithoutPort(uri) == bare; });
}

std::optional<std::string> redirectUriProblem(std::string_view uri) {
  if (uri.empty()) return "empty";
  if (uri.size() > kMaxRedirectUriBytes) return "longer than 1024 bytes";
  for (const char ch : uri) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte <= 0x20 || byte >= 0x7f || ch == '\\' || ch == '"' || ch == '<' || ch == '>')
      return "holds whitespace, a control character, a non-ASCII byte (percent-encode it), a "
             "backslash, a quote or an angle bracket";
  }
  if (uri.find('#') != std::string_view::npos) return "has a fragment (RFC 6749 §3.1.2)";
  if (auto name = answerParameterIn(uri))
    return "its query holds " + *name + ", which the authorization answer adds";
  const auto colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) return "not an absolute URI";
  const std::string_view scheme = uri.substr(0, colon);
  if (!std::isalpha(static_cast<unsigned char>(scheme[0])) ||
      !std::all_of(scheme.begin(), scheme.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '+' || ch == '-' ||
               ch == '.';
      }))
    return "not an absolute URI";
  if (!isLower(scheme)) return "the scheme must be lower case";
  if (scheme != "https" && scheme != "http") {
    // RFC 8252 §7.1: a reverse domain name the app controls ("com.example.app:/callback").
    if (scheme.find('.') == std::string_view::npos)
      return "a private-use scheme must be a reverse domain name (RFC 8252 §7.1)";
    // With an authority, none of its userinfo either ("com.example.app://user:pw@evil/cb").
    if (uri.substr(colon + 1, 2) == "//") {
      const std::string_view rest = uri.substr(colon + 3);
      if (rest.substr(0, rest.find_first_of("/?")).find('@') != std::string_view::npos)
        return "has userinfo";
    }
    return std::nullopt;
  }
  if (uri.substr(colon, 3) != "://") return "not an absolute URI";
  const std::string_view rest = uri.substr(colon + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.empty()) return "has no host";
  if (authority.find('@') != std::string_view::npos) return "has userinfo";
  // The same reading of scheme, host and port that CSP sources and return addresses use.
  if (!ui::originOf(uri)) return "the host or port is malformed";
  if (!isLower(authority)) return "the host must be lower case";
  if (scheme == "http") {
    std::string_view host = authority;
    if (host.starts_with("[")) {
      host = host.substr(0, host.find(']') + 1);
    } else {
      host = host.substr(0, host.find(':'));
    }
    if (host != "localhost" && host != "127.0.0.1" && host != "[::1]")
      return "http is only for this machine (localhost, 127.0.0.1, [::1]): use https";
  }
  return std::nullopt;
}

std::string withQuery(std::string_view uri,
                      const std::vector<std::pair<std::string_view, std::string_view>>& params) {
  std::string out(uri);
  char sep = out.find('?') == std::string::npos ? '?' : '&';
  if (sep == '&' && (out.back() == '?' || out.back() == '&')) sep = '\0';
  for (const auto& [name, value] : params) {
    if (value.empty()) continue;
    if (sep != '\0') out += sep;
    out += core::percentEncode(name);
    out += '=';
    out += core::percentEncode(value);
    sep = '&';
  }
  return out;
}

}  // namespace gatehouse::op
