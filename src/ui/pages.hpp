#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::ui {

// The policy of every page: scripts and styles from this server only, no inline code, the
// passkey script's requests and forms posted only here, never framed.
constexpr std::string_view kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
// kPageCsp whose form-action also names `return_origins` (checked scheme://host[:port] origins):
// a browser applies form-action to where a form's answer redirects, and the portal's sign-in
// answers with a redirect to the application the person came from.
std::string pageCsp(const std::vector<std::string>& return_origins);
// `csp` whose form-action also allows `source` (one page's form answered by a redirect to an
// OpenID client: its registered redirect URI's origin or scheme).
std::string withFormAction(std::string_view csp, std::string_view source);

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

// The form page with its CSRF token; `error` is shown above the form when set.
std::string tokenPage(const TokenForm& form, std::string_view brand, std::string_view csrf,
                      std::string_view error = {});
// A short outcome page ("Password has been reset") with a link onwards.
std::string messagePage(std::string_view brand, std::string_view title, std::string_view message,
                        std::string_view link = "/ui/login",
                        std::string_view link_text = "Sign in");

// The pages' colours: BRAND_PRIMARY_COLOR and BRAND_BACKGROUND_COLOR ("#rgb" or "#rrggbb"),
// checked by the configuration.
struct Colours {
  std::string primary = "#2457c5";
  std::string background = "#f5f7fa";
};
// /ui/static/brand.css: the colours as CSS custom properties, then `extra` (the operator's
// GATEHOUSE_TEMPLATE_DIR/ui.css, appended as it is).
std::string brandStylesheet(const Colours& colours, std::string_view extra);

// The pages' static files (script, stylesheet) compiled into the binary.
struct Asset {
  std::string_view body;
  std::string_view content_type;
};
std::optional<Asset> staticAsset(std::string_view name);

}  // namespace gatehouse::ui
