#include "ui/template.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include <boost/json/value.hpp>

#include "core/ascii.hpp"
#include "core/html.hpp"

namespace gatehouse::ui {

struct Template::Node {
  enum class Kind { Text, Escaped, Raw, Section, Inverted };
  Kind kind = Kind::Text;
  std::string text;  // the text, or the name
  std::vector<Node> children;
};

namespace {

namespace json = boost::json;
using Node = Template::Node;

core::Error malformed(std::string what) {
  return core::Error{core::Errc::InvalidArgument, "template: " + std::move(what)};
}

// A name: letters, digits, "_", "-", "." (a dotted path or "." itself), nothing else.
bool validName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '-' || ch == '.';
  });
}

// Parses `text` from `at` until the end (`open` empty) or the {{/open}} that closes `open`.
core::Result<std::vector<Node>> parseNodes(std::string_view text, std::size_t& at,
                                           const std::string& open) {
  std::vector<Node> out;
  while (at < text.size()) {
    const auto tag = text.find("{{", at);
    if (tag == std::string_view::npos) {
      out.push_back({Node::Kind::Text, std::string(text.substr(at)), {}});
      at = text.size();
      break;
    }
    if (tag > at) out.push_back({Node::Kind::Text, std::string(text.substr(at, tag - at)), {}});
    const bool raw = text.substr(tag, 3) == "{{{";
    const std::string_view closer = raw ? "}}}" : "}}";
    const auto end = text.find(closer, tag + (raw ? 3 : 2));
    if (end == std::string_view::npos)
      return tl::unexpected(malformed("unclosed tag at " + std::to_string(tag)));
    std::string inner(
        core::trimAscii(text.substr(tag + (raw ? 3 : 2), end - tag - (raw ? 3 : 2)), " "));
    at = end + closer.size();
    if (raw) {
      if (!validName(inner)) return tl::unexpected(malformed("bad name in {{{" + inner + "}}}"));
      out.push_back({Node::Kind::Raw, std::move(inner), {}});
      continue;
    }
    if (inner.empty()) return tl::unexpected(malformed("empty tag at " + std::to_string(tag)));
    const char sigil = inner.front();
    const bool tagged = sigil == '/' || sigil == '#' || sigil == '^';
    const std::string name =
        tagged ? std::string(core::trimAscii(std::string_view(inner).substr(1), " ")) : inner;
    // Mustache's other sigils (comments, partials, & and =) are not supported: refused.
    if (!validName(name)) return tl::unexpected(malformed("bad name in {{" + inner + "}}"));
    if (sigil == '/') {
      if (open.empty() || name != open)
        return tl::unexpected(malformed("{{/" + name + "}} closes " +
                                        (open.empty() ? std::string("nothing") : open)));
      return out;
    }
    if (sigil == '#' || sigil == '^') {
      auto children = parseNodes(text, at, name);
      if (!children) return tl::unexpected(children.error());
      out.push_back(
          {sigil == '#' ? Node::Kind::Section : Node::Kind::Inverted, name, std::move(*children)});
      continue;
    }
    out.push_back({Node::Kind::Escaped, name, {}});
  }
  if (!open.empty()) return tl::unexpected(malformed("{{#" + open + "}} is never closed"));
  return out;
}

// The value `name` names, from the innermost scope out; null when none has it.
const json::value* lookup(const std::vector<const json::value*>& scopes, std::string_view name) {
  if (name == ".") return scopes.back();
  const auto dot = name.find('.');
  const std::string_view first = name.substr(0, dot);
  for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
    const auto* obj = (*it)->if_object();
    if (obj == nullptr) continue;
    const json::value* v = obj->if_contains(first);
    if (v == nullptr) continue;
    std::string_view rest = dot == std::string_view::npos ? "" : name.substr(dot + 1);
    while (!rest.empty()) {
      const auto next = rest.find('.');
      const std::string_view part = rest.substr(0, next);
      if (const auto* inner = v->if_object()) {
        v = inner->if_contains(part);
      } else if (const auto* items = v->if_array()) {
        // "list.0": the first item (a section on it runs when the list is not empty).
        std::size_t index = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
        v = ec == std::errc{} && end == part.data() + part.size() && index < items->size()
                ? &(*items)[index]
                : nullptr;
      } else {
        v = nullptr;
      }
      if (v == nullptr) return nullptr;
      rest = next == std::string_view::npos ? "" : rest.substr(next + 1);
    }
    return v;
  }
  return nullptr;
}

std::string text(const json::value* v) {
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  if (v->is_double()) {
    std::array<char, 32> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v->get_double());
    return ec == std::errc{} ? std::string(buf.data(), end) : std::string();
  }
  if (v->is_bool()) return v->get_bool() ? "true" : "false";
  return "";
}

bool truthy(const json::value* v) {
  if (v == nullptr || v->is_null()) return false;
  if (v->is_bool()) return v->get_bool();
  if (v->is_string()) return !v->get_string().empty();
  if (v->is_array()) return !v->get_array().empty();
  return true;
}

void render(const std::vector<Node>& nodes, std::vector<const json::value*>& scopes,
            std::string& out) {
  for (const Node& n : nodes) {
    switch (n.kind) {
      case Node::Kind::Text:
        out += n.text;
        break;
      case Node::Kind::Escaped:
        out += core::escapeHtml(text(lookup(scopes, n.text)));
        break;
      case Node::Kind::Raw:
        out += text(lookup(scopes, n.text));
        break;
      case Node::Kind::Inverted:
        if (!truthy(lookup(scopes, n.text))) render(n.children, scopes, out);
        break;
      case Node::Kind::Section: {
        const json::value* v = lookup(scopes, n.text);
        if (!truthy(v)) break;
        if (v->is_array()) {
          for (const auto& item : v->get_array()) {
            scopes.push_back(&item);
            render(n.children, scopes, out);
            scopes.pop_back();
          }
        } else {
          scopes.push_back(v);
          render(n.children, scopes, out);
          scopes.pop_back();
        }
        break;
      }
    }
  }
}

}  // namespace

core::Result<Template> Template::parse(std::string_view text) {
  std::size_t at = 0;
  auto nodes = parseNodes(text, at, "");
  if (!nodes) return tl::unexpected(nodes.error());
  if (at != text.size())
    return tl::unexpected(malformed("text after the end at " + std::to_string(at)));
  Template t;
  t.nodes_ = std::make_shared<const std::vector<Node>>(std::move(*nodes));
  return t;
}

std::string Template::render(const json::object& data) const {
  std::string out;
  const json::value root(data);
  std::vector<const json::value*> scopes{&root};
  if (nodes_) ui::render(*nodes_, scopes, out);
  return out;
}

}  // namespace gatehouse::ui
