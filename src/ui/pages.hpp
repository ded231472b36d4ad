#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::ui {

// The policy of every page: scripts and styles from this server only, no inline code, forms
// posted only here, never framed.
constexpr std::string_view kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

// A page whose form spends an emailed token: GET shows it (spending nothing), POST submits it.
// The token travels in the link's fragment; a small script moves it into the form, and without
// JavaScript a person pastes it.
struct TokenForm {
  std::string_view path;   // "/ui/reset-password": the form posts here
  std::string_view title;  // "Choose a new password"
  std::string_view intro;
  std::string_view button;
  bool new_password = false;  // also asks for the new password
};

// The form page; `error` (escaped) is shown above the form when set.
std::string tokenPage(const TokenForm& form, std::string_view brand, std::string_view error = {});
// A short outcome page ("Password has been reset") with a link onwards.
std::string messagePage(std::string_view brand, std::string_view title, std::string_view message);

// The pages' static files (script, stylesheet) compiled into the binary.
struct Asset {
  std::string_view body;
  std::string_view content_type;
};
std::optional<Asset> staticAsset(std::string_view name);

}  // namespace gatehouse::ui
