#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::mail {

// A rendered message: subject, text and HTML.
struct Rendered {
  std::string subject;
  std::string text;
  std::string html;
};

// Values for the placeholders ({{product}}, {{link}}, {{username}}, {{email}}, {{new_email}},
// {{public_url}}, {{expires}}); an absent one renders empty.
using Values = std::map<std::string, std::string, std::less<>>;

// The mail templates: built-in text and HTML for each message, each part overridable by a file
// <dir>/mail/<name>.subject, .txt or .html. Loaded once at startup, then read-only
// (thread-safe). Names: reset-password, verify-email, confirm-email-change, email-change-notice,
// the notices passkey-added, totp-added, recovery-codes-replaced, factor-removed,
// password-changed, identity-linked, second-factor-failures, second-factor-locked and
// email-changed, and test.
class Templates {
 public:
  // The built-ins, with the overrides found under `dir` (InvalidArgument naming the file for an
  // unreadable or over-large file, or an unknown placeholder).
  [[nodiscard]] static core::Result<Templates> load(
      const std::optional<std::filesystem::path>& dir);

  // InvalidArgument for an unknown name. Values are HTML-escaped in the HTML part; a subject is
  // one line.
  [[nodiscard]] core::Result<Rendered> render(std::string_view name, const Values& values) const;

 private:
  struct Parts {
    std::string subject;
    std::string text;
    std::string html;
  };
  std::map<std::string, Parts, std::less<>> templates_;
};

}  // namespace gatehouse::mail
