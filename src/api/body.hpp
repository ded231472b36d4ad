#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "auth/errors.hpp"
#include "http/message.hpp"

namespace gatehouse::api {

// Reads a request body the way FastAPI/pydantic does, collecting every problem as a FastAPI
// validation item (422). Not thread-safe; one per request.
class Body {
 public:
  // JSON object bodies: wrong content type or malformed JSON become one error item.
  static Body json(const http::Request& request);
  // Form bodies, application/x-www-form-urlencoded or multipart/form-data (FastAPI's Form takes
  // both: a browser's FormData sends the second). Another content type leaves every field
  // missing; a malformed body is one error item. With `empty_is_absent` a field sent empty counts
  // as not sent, as FastAPI's Form has it (the API's forms; the pages' read what was typed).
  static Body form(const http::Request& request, bool empty_is_absent = false);

  // Required / optional string members; a wrong type is an error item.
  std::string requiredString(const std::string& name);
  std::optional<std::string> optionalString(const std::string& name);
  std::optional<bool> optionalBool(const std::string& name);
  std::optional<std::int64_t> optionalInt(const std::string& name);
  std::optional<std::vector<std::string>> optionalStringList(const std::string& name);
  // Every value of a form field that repeats (checkboxes); empty for a JSON body.
  std::vector<std::string> formValues(std::string_view name) const;
  // A string member without recording problems (the middleware's rate-limit keys); nullopt when
  // absent or not a string.
  std::optional<std::string_view> peekString(std::string_view name) const;
  // A required JSON object member (a form field holding one JSON object, for the pages' scripts),
  // parsed strictly within `max_bytes`; an error item when missing, malformed or too large.
  std::optional<boost::json::value> requiredObject(const std::string& name, std::size_t max_bytes);

  // A required JSON array member of at most `max_items` elements (JSON bodies only); null after
  // recording an error item.
  const boost::json::array* requiredArray(const std::string& name, std::size_t max_items);

  // An error item for each JSON member (or form field, the pages' "csrf" aside) not in `known`
  // (pydantic's extra = "forbid"): a field the endpoint would silently ignore is refused instead.
  void forbidOthers(std::initializer_list<std::string_view> known);

  // Whether the JSON member or form field is there at all, null included.
  bool present(const std::string& name) const;
  bool ok() const { return errors_.empty(); }
  std::vector<auth::FieldError>& errors() { return errors_; }

 private:
  void missing(const std::string& name);
  void wrongType(const std::string& name, const std::string& expected);

  bool is_form_ = false;
  boost::json::object object_;
  std::vector<std::pair<std::string, std::string>> form_;
  std::vector<auth::FieldError> errors_;
};

// 422 {"detail": [...]} in FastAPI's shape.
http::Response validationError(const std::vector<auth::FieldError>& errors);

// Whether the request's Content-Type names `expected`, its parameters aside and without regard to
// case ("Application/JSON; charset=utf-8" is application/json).
bool mediaTypeIs(const http::Request& r, std::string_view expected);

}  // namespace gatehouse::api
