#include "auth/claims.hpp"

#include <algorithm>
#include <charconv>

namespace gatehouse::auth {

std::optional<std::int64_t> userIdOf(const jose::Claims& claims) {
  const std::string& sub = claims.sub;
  std::int64_t id = 0;
  const auto [ptr, ec] = std::from_chars(sub.data(), sub.data() + sub.size(), id);
  if (ec != std::errc{} || ptr != sub.data() + sub.size() || id <= 0) return std::nullopt;
  return id;
}

std::string_view sessionOf(const jose::Claims& claims) {
  const auto* sid = claims.raw.if_contains("sid");
  return sid != nullptr && sid->is_string() ? std::string_view(sid->get_string())
                                            : std::string_view();
}

bool isOpenIdScope(std::string_view scope) {
  return scope == "openid" || scope == "profile" || scope == "email" || scope == "offline_access";
}

std::vector<std::string> splitScopes(std::string_view scope) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < scope.size()) {
    while (i < scope.size() && (scope[i] == ' ' || scope[i] == '\t' || scope[i] == '\n')) ++i;
    std::size_t j = i;
    while (j < scope.size() && scope[j] != ' ' && scope[j] != '\t' && scope[j] != '\n') ++j;
    if (j > i) out.emplace_back(scope.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<std::vector<std::string>> grantedScope(const jose::Claims& claims) {
  const auto* scope = claims.raw.if_contains("scope");
  if (scope == nullptr || !scope->is_string()) return std::nullopt;
  return splitScopes(std::string_view(scope->get_string()));
}

std::vector<std::string> amrOf(const jose::Claims& claims) {
  std::vector<std::string> out;
  const auto* amr = claims.raw.if_contains("amr");
  if (amr == nullptr || !amr->is_array()) return out;
  for (const auto& m : amr->get_array()) {
    if (m.is_string()) out.emplace_back(m.get_string());
  }
  return out;
}

std::int64_t authTimeOf(const jose::Claims& claims) {
  const auto* t = claims.raw.if_contains("auth_time");
  return t != nullptr && t->is_int64() ? t->get_int64() : 0;
}

bool isSecondFactor(std::string_view m) {
  return m == "otp" || m == "hwk" || m == "swk" || m == "mfa";
}

bool namesSecondFactor(const std::vector<std::string>& amr) {
  return std::any_of(amr.begin(), amr.end(),
                     [](const std::string& m) { return isSecondFactor(m); });
}

bool provesSecondFactor(const jose::Claims& claims) {
  const auto* amr = claims.raw.if_contains("amr");
  if (amr == nullptr || !amr->is_array()) return false;
  return std::any_of(amr->get_array().begin(), amr->get_array().end(), [](const auto& m) {
    return m.is_string() && isSecondFactor(std::string_view(m.get_string()));
  });
}

std::string amrText(const jose::Claims& claims) {
  std::string out;
  const auto* amr = claims.raw.if_contains("amr");
  if (amr == nullptr || !amr->is_array()) return out;
  for (const auto& m : amr->get_array()) {
    if (!m.is_string()) continue;
    if (!out.empty()) out.push_back(' ');
    out += std::string_view(m.get_string());
  }
  return out;
}

std::string sessionCounterKey(const jose::Claims& claims) {
  const std::string_view sid = sessionOf(claims);
  return sid.empty() ? "user:" + claims.sub : "sid:" + std::string(sid);
}

}  // namespace gatehouse::auth
