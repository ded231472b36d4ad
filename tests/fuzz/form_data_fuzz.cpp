// libFuzzer target for multipart/form-data bodies (the API's forms take them from any client,
// before authentication). The input's first line is the Content-Type, the rest the body. Fails on
// any crash or sanitizer report, and on a form read from a body whose boundary then appears in a
// value: a value ends at the first delimiter, so two readers could not see two different forms.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/form_data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t eol = input.find('\n');
  const std::string_view type = input.substr(0, eol);
  const std::string_view body = eol == std::string_view::npos ? "" : input.substr(eol + 1);
  (void)gatehouse::http::parseMultipartFormData(type, body);
  // With a boundary known here, the delimiter never stays inside a value.
  const auto fields =
      gatehouse::http::parseMultipartFormData("multipart/form-data; boundary=b", input);
  if (!fields) return 0;
  for (const auto& field : *fields)
    if (field.second.find("\r\n--b") != std::string::npos) std::abort();
  return 0;
}
