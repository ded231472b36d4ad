#include "ui/pages.hpp"

#include "core/html.hpp"

namespace gatehouse::ui {
namespace {

using core::escapeHtml;

// Moves #token=... into the form and out of the address bar (and of the history).
constexpr std::string_view kTokenScript = R"js((function () {
  "use strict";
  var match = /(?:^#|&)token=([A-Za-z0-9_-]+)/.exec(window.location.hash);
  var field = document.getElementById("token");
  if (!match || !field) return;
  field.value = match[1];
  var row = document.getElementById("token-row");
  if (row) row.hidden = true;
  window.history.replaceState(null, "", window.location.pathname);
})();
)js";

constexpr std::string_view kStylesheet = R"css(body {
  font-family: system-ui, sans-serif; color: #1f2933; background: #f5f7fa;
  margin: 0; padding: 2rem 1rem;
}
main { max-width: 26rem; margin: 0 auto; background: #fff; padding: 1.5rem 2rem;
  border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
h1 { font-size: 1.4rem; }
label { display: block; margin: 1rem 0 .3rem; font-weight: 600; }
input { width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem;
  border: 1px solid #9aa5b1; border-radius: 4px; }
button { margin-top: 1.2rem; padding: .7rem 1.4rem; font-size: 1rem; border: 0;
  border-radius: 4px; background: #2457c5; color: #fff; cursor: pointer; }
.error { color: #a61b1b; background: #fde8e8; padding: .6rem; border-radius: 4px; }
footer { color: #616e7c; font-size: .85rem; margin-top: 1.5rem; }
)css";

std::string head(std::string_view brand, std::string_view title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<meta name=\"referrer\" content=\"no-referrer\">\n<title>" +
         escapeHtml(title) + " · " + escapeHtml(brand) +
         "</title>\n<link rel=\"stylesheet\" href=\"/ui/static/gatehouse.css\">\n"
         "<script src=\"/ui/static/token.js\" defer></script>\n</head>\n<body><main>\n";
}

std::string foot(std::string_view brand) {
  return "<footer>" + escapeHtml(brand) + "</footer>\n</main></body></html>\n";
}

}  // namespace

std::string tokenPage(const TokenForm& form, std::string_view brand, std::string_view error) {
  std::string out = head(brand, form.title);
  out += "<h1>" + escapeHtml(form.title) + "</h1>\n";
  if (!error.empty()) out += "<p class=\"error\" role=\"alert\">" + escapeHtml(error) + "</p>\n";
  out += "<p>" + escapeHtml(form.intro) + "</p>\n";
  out += "<form method=\"post\" action=\"" + escapeHtml(form.path) + "\">\n";
  out +=
      "<div id=\"token-row\"><label for=\"token\">Code from the email</label>\n"
      "<input id=\"token\" name=\"token\" type=\"text\" autocomplete=\"off\" spellcheck=\"false\" "
      "required maxlength=\"128\"></div>\n";
  if (form.new_password) {
    out +=
        "<label for=\"new_password\">New password</label>\n"
        "<input id=\"new_password\" name=\"new_password\" type=\"password\" "
        "autocomplete=\"new-password\" required>\n";
  }
  out += "<button type=\"submit\">" + escapeHtml(form.button) + "</button>\n</form>\n";
  return out + foot(brand);
}

std::string messagePage(std::string_view brand, std::string_view title, std::string_view message) {
  return head(brand, title) + "<h1>" + escapeHtml(title) + "</h1>\n<p>" + escapeHtml(message) +
         "</p>\n" + foot(brand);
}

std::optional<Asset> staticAsset(std::string_view name) {
  if (name == "token.js") return Asset{kTokenScript, "text/javascript; charset=utf-8"};
  if (name == "gatehouse.css") return Asset{kStylesheet, "text/css; charset=utf-8"};
  return std::nullopt;
}

}  // namespace gatehouse::ui
