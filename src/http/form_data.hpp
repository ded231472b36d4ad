#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gatehouse::http {

// A multipart/form-data body (RFC 7578), as a browser's FormData, `curl -F` or `requests`'
// `files=` send it, read as the text fields of a form: name → value, in order, repeats kept.
// `content_type` is the request's whole Content-Type value; its `boundary` parameter (1 to 70
// characters, quoted or not) frames the parts. nullopt, never a partial answer, for a body that
// is not such a form: no or a bad boundary, no closing delimiter, a part without
// `Content-Disposition: form-data; name=…`, a file (a `filename` parameter: a form of text
// fields takes none), a transfer encoding other than 7bit, 8bit or binary, a folded or malformed
// part header, or part headers over 1 KiB. The body's own size is the caller's limit, checked
// before (the request's); the work is linear in it.
std::optional<std::vector<std::pair<std::string, std::string>>> parseMultipartFormData(
    std::string_view content_type, std::string_view body);

}  // namespace gatehouse::http
