#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/error.hpp"

namespace gatehouse::ui {

// A page template: a small subset of Mustache, with escaping on by default.
//   {{name}}              the value at `name` ("a.b" descends into objects), HTML-escaped;
//                         numbers and booleans as text, a missing value as nothing
//   {{{name}}}            the value as it is: only for HTML another template made
//   {{#name}}...{{/name}} an array: the inside once per item (its members in scope, {{.}} the
//                         item itself); true, a non-empty string or an object: once (an
//                         object's members in scope); anything else: nothing
//   {{^name}}...{{/name}} the inside when `name` is missing, false, null, "" or []
// Parsed once; a malformed template (an unclosed tag or section, a stray {{/x}}) is an error
// then, never while rendering. Immutable after parsing, so thread-safe.
class Template {
 public:
  [[nodiscard]] static core::Result<Template> parse(std::string_view text);
  std::string render(const boost::json::object& data) const;

  struct Node;

 private:
  std::shared_ptr<const std::vector<Node>> nodes_;
};

}  // namespace gatehouse::ui
