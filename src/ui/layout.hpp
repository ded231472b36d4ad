#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace gatehouse::ui {

// Who looks at a page once signed in: the header's links and its sign-out button.
struct Viewer {
  std::string username;
  bool console = false;  // may open /ui/admin
  std::string csrf;      // the sign-out form's token
};

// A whole page: head (stylesheets, the script, no inline code), the header with the product name
// and, for a viewer, their links and sign-out; `content` is already HTML.
std::string page(std::string_view brand, std::string_view title, std::string_view content,
                 const Viewer* viewer = nullptr);

// Small pieces, every text escaped.
std::string esc(std::string_view text);
std::string heading(std::string_view text);
std::string paragraph(std::string_view text);
std::string errorBox(std::string_view text);   // role="alert"
std::string noticeBox(std::string_view text);  // role="status"
std::string hidden(std::string_view name, std::string_view value);

struct Field {
  std::string_view label;
  std::string_view name;
  std::string_view type = "text";
  std::string_view autocomplete = "off";
  bool required = true;
  std::string_view value = {};
  std::string_view extra = {};  // more attributes, already HTML ("inputmode=\"numeric\"")
  std::string_view id = {};     // the element's id when the name is not unique on the page
};
std::string field(const Field& f);

// <form method="post" action=... id=...> with its CSRF field; close with formEnd().
std::string formStart(std::string_view action, std::string_view id, std::string_view csrf);
std::string formEnd(std::string_view button, std::string_view button_class = {});
// A form of one button (end a session, revoke a key), with hidden fields; `label` names what the
// button acts on for screen readers when its text alone does not ("Revoke" in a table row).
std::string buttonForm(
    std::string_view action, std::string_view id, std::string_view csrf, std::string_view button,
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields = {},
    std::string_view button_class = {}, std::string_view label = {});

}  // namespace gatehouse::ui
