#include "ui/layout.hpp"

#include "core/html.hpp"

namespace gatehouse::ui {

std::string esc(std::string_view text) { return core::escapeHtml(text); }

std::string page(std::string_view brand, std::string_view title, std::string_view content,
                 const Viewer* viewer) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      // No request for /favicon.ico (img-src allows data:).
      "<link rel=\"icon\" href=\"data:,\">\n<title>" +
      esc(title) + " · " + esc(brand) +
      "</title>\n<link rel=\"stylesheet\" href=\"/ui/static/gatehouse.css\">\n"
      "<link rel=\"stylesheet\" href=\"/ui/static/brand.css\">\n"
      "<script src=\"/ui/static/gatehouse.js\" defer></script>\n</head>\n<body>\n"
      "<header><span class=\"brand\">" +
      esc(brand) + "</span>";
  if (viewer != nullptr) {
    out += "<nav aria-label=\"Main\"><a href=\"/ui/account\">" + esc(viewer->username) + "</a>";
    if (viewer->console) out += "<a href=\"/ui/admin\">Admin</a>";
    out += "<form method=\"post\" action=\"/ui/logout\" id=\"logout-form\">" +
           hidden("csrf", viewer->csrf) +
           "<button type=\"submit\" class=\"link\">Sign out</button></form></nav>";
  }
  out += "</header>\n<main>\n";
  out += content;
  out += "</main>\n</body></html>\n";
  return out;
}

std::string heading(std::string_view text) { return "<h1>" + esc(text) + "</h1>\n"; }
std::string paragraph(std::string_view text) { return "<p>" + esc(text) + "</p>\n"; }
std::string errorBox(std::string_view text) {
  return "<p class=\"error\" role=\"alert\">" + esc(text) + "</p>\n";
}
std::string noticeBox(std::string_view text) {
  return "<p class=\"notice\" role=\"status\">" + esc(text) + "</p>\n";
}
std::string hidden(std::string_view name, std::string_view value) {
  return "<input type=\"hidden\" name=\"" + esc(name) + "\" value=\"" + esc(value) + "\">";
}

std::string field(const Field& f) {
  const std::string id = esc(f.id.empty() ? f.name : f.id);
  std::string out = "<label for=\"" + id + "\">" + esc(f.label) + "</label>\n<input id=\"" + id +
                    "\" name=\"" + esc(f.name) + "\" type=\"" + esc(f.type) + "\" autocomplete=\"" +
                    esc(f.autocomplete) + "\"";
  if (!f.value.empty()) out += " value=\"" + esc(f.value) + "\"";
  if (f.required) out += " required";
  if (!f.extra.empty()) out += " " + std::string(f.extra);
  return out + ">\n";
}

std::string formStart(std::string_view action, std::string_view id, std::string_view csrf) {
  return "<form method=\"post\" action=\"" + esc(action) + "\" id=\"" + esc(id) + "\">\n" +
         hidden("csrf", csrf) + "\n";
}

std::string formEnd(std::string_view button, std::string_view button_class) {
  std::string out = "<button type=\"submit\"";
  if (!button_class.empty()) out += " class=\"" + esc(button_class) + "\"";
  return out + ">" + esc(button) + "</button>\n</form>\n";
}

std::string buttonForm(std::string_view action, std::string_view id, std::string_view csrf,
                       std::string_view button,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> fields,
                       std::string_view button_class, std::string_view label) {
  std::string out = "<form method=\"post\" action=\"" + esc(action) + "\" id=\"" + esc(id) +
                    "\" class=\"inline\">" + hidden("csrf", csrf);
  for (const auto& [name, value] : fields) out += hidden(name, value);
  out += "<button type=\"submit\"";
  if (!button_class.empty()) out += " class=\"" + esc(button_class) + "\"";
  if (!label.empty()) out += " aria-label=\"" + esc(label) + "\"";
  return out + ">" + esc(button) + "</button></form>";
}

}  // namespace gatehouse::ui
