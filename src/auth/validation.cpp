#include "auth/validation.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/utf8.hpp"

namespace gatehouse::auth {
namespace {

constexpr std::string_view kPlaceholderDomain = ".oidc.invalid";

// Whether `domain` ends in kPlaceholderDomain, in any case.
bool hasPlaceholderDomain(std::string_view domain) {
  return domain.size() >= kPlaceholderDomain.size() &&
         std::equal(kPlaceholderDomain.begin(), kPlaceholderDomain.end(),
                    domain.end() - kPlaceholderDomain.size(), [](char ours, char theirs) {
                      return ours == std::tolower(static_cast<unsigned char>(theirs));
                    });
}

}  // namespace

std::string emailProblem(std::string_view email) {
  if (email.size() > 254) return "value is not a valid email address: too long";
  const auto at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
    return "value is not a valid email address: it must have exactly one @-sign";
  }
  const auto cps = core::decodeUtf8(email);
  if (!cps) return "value is not a valid email address: invalid UTF-8";
  if (std::any_of(cps->begin(), cps->end(), core::isInvisible)) {
    return "value is not a valid email address: invisible or formatting characters are not "
           "allowed";
  }
  const std::string_view local = email.substr(0, at);
  const std::string_view domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64)
    return "value is not a valid email address: bad local part";
  for (const char ch : email) {
    const auto c = static_cast<unsigned char>(ch);
    // Specials outside RFC 5322's dot-atom: comments "(...)", domain literals "[...]", ':'
    // (mail servers may read such addresses as another mailbox).
    if (c <= 0x20 || c == 0x7F || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' ||
        c == '\\' || c == '(' || c == ')' || c == '[' || c == ']' || c == ':') {
      return "value is not a valid email address: invalid character";
    }
  }
  // An RFC 2047 encoded word: no address needs one, and a mail server or client that decodes it
  // may deliver to another mailbox than the one checked ("email splitting"; found by an outside
  // attack, at registration).
  if (const auto open = email.find("=?");
      open != std::string_view::npos && email.find("?=", open + 2) != std::string_view::npos)
    return "value is not a valid email address: an encoded word (=?...?=)";
  // "victim%evil.example@ours" and "evil.example!victim@ours": source routes, which a relay of
  // ours may still follow (Postfix's percent hack is on by default), delivering the mail that
  // proves the address to another mailbox (found by an outside attack).
  if (local.find_first_of("%!") != std::string_view::npos)
    return "value is not a valid email address: '%' and '!' route mail to another mailbox";
  const auto dot = domain.find('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0 || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos || domain.front() == '-') {
    return "value is not a valid email address: bad domain";
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return "value is not a valid email address: bad local part";
  }
  // Where placeholderAddress() puts the accounts of external sign-ins without a verified
  // address: one registered first would stop that sign-in for good (found by an outside attack).
  if (hasPlaceholderDomain(domain))
    return "value is not a valid email address: a domain kept for external sign-in";
  return {};
}

std::string placeholderAddress(std::string_view subject, std::string_view provider) {
  return std::string(subject) + "@" + std::string(provider) + std::string(kPlaceholderDomain);
}

bool isPlaceholderAddress(std::string_view address) { return address.ends_with(".invalid"); }

std::string usernameProblem(std::string_view username) {
  if (username.size() < 3 || username.size() > 32) return "Username must be 3 to 32 characters";
  for (const char ch : username) {
    const auto c = static_cast<unsigned char>(ch);
    if (!(std::isalnum(c) != 0 || c == '_' || c == '.' || c == '-')) {
      return "Username may contain only letters, digits, '_', '.' and '-'";
    }
  }
  return {};
}

std::vector<std::string> passwordProblems(std::string_view password,
                                          const config::PasswordRules& rules) {
  std::vector<std::string> out;
  const auto code_points = core::decodeUtf8(password);
  if (!code_points) {
    out.emplace_back("Password must be valid UTF-8");
    return out;
  }
  if (code_points->size() < rules.min_length) {
    out.push_back("Password must be at least " + std::to_string(rules.min_length) +
                  " characters long");
  }
  bool upper = false;
  bool lower = false;
  bool digit = false;
  bool special = false;
  for (const char ch : password) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      special = true;  // non-ASCII counts as a special character
    } else if (std::isupper(c) != 0) {
      upper = true;
    } else if (std::islower(c) != 0) {
      lower = true;
    } else if (std::isdigit(c) != 0) {
      digit = true;
    } else {
      special = true;
    }
  }
  if (rules.require_uppercase && !upper)
    out.emplace_back("Password must contain an uppercase letter");
  if (rules.require_lowercase && !lower)
    out.emplace_back("Password must contain a lowercase letter");
  if (rules.require_digit && !digit) out.emplace_back("Password must contain a digit");
  if (rules.require_special && !special)
    out.emplace_back("Password must contain a special character");
  return out;
}

}  // namespace gatehouse::auth
