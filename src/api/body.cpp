#include "api/body.hpp"

#include <charconv>

#include "core/ascii.hpp"
#include "core/strict_json.hpp"
#include "http/form_data.hpp"

namespace gatehouse::api {

bool mediaTypeIs(const http::Request& r, std::string_view expected) {
  auto ct = r.header("content-type");
  if (!ct) return false;
  std::string_view v = *ct;
  v = v.substr(0, v.find(';'));
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return core::equalsIgnoringCase(v, expected);
}

Body Body::json(const http::Request& request) {
  Body b;
  if (!mediaTypeIs(request, "application/json")) {
    b.errors_.push_back(
        {{"body"}, "Content-Type must be application/json", "value_error.content_type"});
    return b;
  }
  auto doc =
      core::parseStrictJson(request.body, {.max_bytes = request.body.size() + 1, .max_depth = 32});
  if (!doc) {
    b.errors_.push_back({{"body"}, "Invalid JSON body", "value_error.jsondecode"});
  } else if (!doc->is_object()) {
    b.errors_.push_back({{"body"}, "value is not a valid dict", "type_error.dict"});
  } else {
    b.object_ = std::move(doc->get_object());
  }
  return b;
}

Body Body::form(const http::Request& request, bool empty_is_absent) {
  Body b;
  b.is_form_ = true;
  std::optional<std::vector<std::pair<std::string, std::string>>> pairs;
  if (mediaTypeIs(request, "application/x-www-form-urlencoded")) {
    pairs = http::parseForm(request.body);
  } else if (mediaTypeIs(request, "multipart/form-data")) {
    pairs = http::parseMultipartFormData(request.header("content-type").value_or(""), request.body);
  } else {
    return b;  // like FastAPI: the fields are then simply missing
  }
  if (!pairs) {
    b.errors_.push_back({{"body"}, "Invalid form encoding", "value_error.form"});
    return b;
  }
  b.form_ = std::move(*pairs);
  if (empty_is_absent)
    std::erase_if(b.form_, [](const auto& field) { return field.second.empty(); });
  return b;
}

void Body::forbidOthers(std::initializer_list<std::string_view> known) {
  if (is_form_) {
    // A page's form also carries its CSRF token (checked by the middleware, before the handler).
    for (const auto& [name, value] : form_) {
      bool listed = name == "csrf";
      for (const auto k : known) listed = listed || name == k;
      if (!listed)
        errors_.push_back({{"body", name}, "extra fields not permitted", "value_error.extra"});
    }
    return;
  }
  for (const auto& member : object_) {
    bool listed = false;
    for (const auto k : known) listed = listed || member.key() == k;
    if (!listed) {
      errors_.push_back(
          {{"body", std::string(member.key())}, "extra fields not permitted", "value_error.extra"});
    }
  }
}

void Body::missing(const std::string& name) {
  errors_.push_back({{"body", name}, "field required", "value_error.missing"});
}

void Body::wrongType(const std::string& name, const std::string& expected) {
  errors_.push_back({{"body", name}, expected + " type expected", "type_error." + expected});
}

const boost::json::array* Body::requiredArray(const std::string& name, std::size_t max_items) {
  const auto* v = is_form_ ? nullptr : object_.if_contains(name);
  if (v == nullptr) {
    missing(name);
    return nullptr;
  }
  if (!v->is_array()) {
    wrongType(name, "list");
    return nullptr;
  }
  if (v->get_array().size() > max_items) {
    errors_.push_back({{"body", name},
                       "ensure this value has at most " + std::to_string(max_items) + " items",
                       "value_error.list.max_items"});
    return nullptr;
  }
  return &v->get_array();
}

std::optional<boost::json::value> Body::requiredObject(const std::string& name,
                                                       std::size_t max_bytes) {
  if (is_form_) {
    const auto text = peekString(name);
    if (!text) {
      missing(name);
      return std::nullopt;
    }
    // parseStrictJson refuses text over max_bytes before it parses.
    auto parsed = core::parseStrictJson(*text, {.max_bytes = max_bytes, .max_depth = 8});
    if (!parsed || !parsed->is_object()) {
      wrongType(name, "dict");
      return std::nullopt;
    }
    return std::move(*parsed);
  }
  const auto* v = object_.if_contains(name);
  if (v == nullptr) {
    missing(name);
    return std::nullopt;
  }
  if (!v->is_object()) {
    wrongType(name, "dict");
    return std::nullopt;
  }
  return *v;
}

std::optional<std::string_view> Body::peekString(std::string_view name) const {
  if (is_form_) {
    for (const auto& [k, v] : form_) {
      if (k == name) return std::string_view(v);
    }
    return std::nullopt;
  }
  const auto* v = object_.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

bool Body::present(const std::string& name) const {
  if (is_form_)
    return std::any_of(form_.begin(), form_.end(),
                       [&](const auto& kv) { return kv.first == name; });
  return object_.contains(name);
}

std::optional<std::string> Body::optionalString(const std::string& name) {
  if (is_form_) {
    for (const auto& [k, v] : form_) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
  const auto* v = object_.if_contains(name);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_string()) {
    wrongType(name, "str");
    return std::nullopt;
  }
  return std::string(v->get_string());
}

std::string Body::requiredString(const std::string& name) {
  const std::size_t before = errors_.size();
  auto v = optionalString(name);
  if (!v) {
    if (errors_.size() == before) missing(name);
    return {};
  }
  return std::move(*v);
}

std::optional<bool> Body::optionalBool(const std::string& name) {
  if (is_form_) {  // a checkbox: "on" (its default value) or "true" when ticked, absent when not
    const auto text = optionalString(name);
    if (!text) return std::nullopt;
    if (*text == "on" || *text == "true" || *text == "1") return true;
    if (text->empty() || *text == "false" || *text == "0") return false;
    wrongType(name, "bool");
    return std::nullopt;
  }
  const auto* v = object_.if_contains(name);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_bool()) {
    wrongType(name, "bool");
    return std::nullopt;
  }
  return v->get_bool();
}

std::optional<std::int64_t> Body::optionalInt(const std::string& name) {
  if (is_form_) {  // an empty field is an absent one
    const auto text = optionalString(name);
    if (!text || text->empty()) return std::nullopt;
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc{} || end != text->data() + text->size()) {
      wrongType(name, "integer");
      return std::nullopt;
    }
    return n;
  }
  const auto* v = object_.if_contains(name);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_int64()) {
    wrongType(name, "integer");
    return std::nullopt;
  }
  return v->get_int64();
}

std::optional<std::vector<std::string>> Body::optionalStringList(const std::string& name) {
  const auto* v = object_.if_contains(name);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_array()) {
    wrongType(name, "list");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) {
      wrongType(name, "str");
      return std::nullopt;
    }
    out.emplace_back(item.get_string());
  }
  return out;
}

std::vector<std::string> Body::formValues(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : form_) {
    if (k == name) out.push_back(v);
  }
  return out;
}

http::Response validationError(const std::vector<auth::FieldError>& errors) {
  boost::json::array detail;
  for (const auto& e : errors) {
    boost::json::array loc;
    for (const auto& l : e.loc) loc.emplace_back(l);
    detail.push_back(
        boost::json::object{{"loc", std::move(loc)}, {"msg", e.msg}, {"type", e.type}});
  }
  return http::Response::json(422, boost::json::object{{"detail", std::move(detail)}});
}

}  // namespace gatehouse::api
