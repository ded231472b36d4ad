#include "core/strict_json.hpp"

#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

namespace gatehouse::core {
namespace {

namespace json = boost::json;

// Feeds basic_parser events into Boost.JSON's own value_stack (fast, few allocations) and records
// how many members each object had in the text, in the order objects close.
class CountingHandler {
 public:
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);

  bool on_document_begin(json::error_code& /*ec*/) { return true; }
  bool on_document_end(json::error_code& /*ec*/) { return true; }
  bool on_array_begin(json::error_code& /*ec*/) { return true; }
  bool on_array_end(std::size_t n, json::error_code& /*ec*/) {
    stack_.push_array(n);
    return true;
  }
  bool on_object_begin(json::error_code& /*ec*/) { return true; }
  bool on_object_end(std::size_t n, json::error_code& /*ec*/) {
    stack_.push_object(n);
    member_counts_.push_back(n);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    stack_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    stack_.push_string(s);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    stack_.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    stack_.push_key(s);
    return true;
  }
  bool on_number_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
  bool on_int64(std::int64_t i, json::string_view /*s*/, json::error_code& /*ec*/) {
    stack_.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view /*s*/, json::error_code& /*ec*/) {
    stack_.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view /*s*/, json::error_code& /*ec*/) {
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code& /*ec*/) {
    stack_.push_bool(b);
    return true;
  }
  bool on_null(json::error_code& /*ec*/) {
    stack_.push_null();
    return true;
  }
  bool on_comment_part(json::string_view /*s*/, json::error_code& /*ec*/) { return false; }
  bool on_comment(json::string_view /*s*/, json::error_code& /*ec*/) { return false; }

  explicit CountingHandler(json::storage_ptr sp) { stack_.reset(std::move(sp)); }
  json::value release() { return stack_.release(); }
  const std::vector<std::size_t>& memberCounts() const { return member_counts_; }

 private:
  json::value_stack stack_;
  std::vector<std::size_t> member_counts_;
};

// Boost.JSON keeps only the last of duplicate keys, so an object holds fewer members than the
// text gave it exactly when a name repeated. Walk the objects in closing order (post-order) and
// compare; a dropped object-valued duplicate also shows up as a different number of objects.
class DuplicateCheck {
 public:
  explicit DuplicateCheck(const std::vector<std::size_t>& counts) : counts_(counts) {}

  bool clean(const json::value& root) { return visit(root) && next_ == counts_.size(); }

 private:
  bool visit(const json::value& v) {
    if (const auto* arr = v.if_array()) {
      for (const auto& e : *arr) {
        if (!visit(e)) return false;
      }
      return true;
    }
    if (const auto* obj = v.if_object()) {
      for (const auto& kv : *obj) {
        if (!visit(kv.value())) return false;
      }
      if (next_ >= counts_.size() || counts_[next_] != obj->size()) return false;
      ++next_;
    }
    return true;
  }

  const std::vector<std::size_t>& counts_;
  std::size_t next_ = 0;
};

}  // namespace

Result<boost::json::value> parseStrictJson(std::string_view text, const JsonLimits& limits,
                                           boost::json::storage_ptr storage) {
  if (text.size() > limits.max_bytes) {
    return makeError(Errc::InvalidArgument, "JSON document exceeds size limit");
  }
  json::parse_options options;
  options.max_depth = limits.max_depth;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;
  json::basic_parser<CountingHandler> parser(options, std::move(storage));
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec) return makeError(Errc::InvalidArgument, "malformed JSON: " + ec.message());
  if (used != text.size() || !parser.done()) {
    return makeError(Errc::InvalidArgument, "malformed JSON: trailing data");
  }
  json::value root = parser.handler().release();
  if (!DuplicateCheck(parser.handler().memberCounts()).clean(root)) {
    return makeError(Errc::InvalidArgument, "duplicate JSON member name");
  }
  return root;
}

}  // namespace gatehouse::core
