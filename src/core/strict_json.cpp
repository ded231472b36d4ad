#include "core/strict_json.hpp"

#include <string>
#include <utility>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>

namespace gatehouse::core {
namespace {

namespace json = boost::json;

// Builds a json::value from basic_parser events; unlike json::parse it refuses duplicate keys
// instead of silently keeping one of them.
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);

  bool on_document_begin(json::error_code& /*ec*/) { return true; }
  bool on_document_end(json::error_code& /*ec*/) { return true; }
  bool on_array_begin(json::error_code& /*ec*/) {
    frames_.push_back(Frame{false, {}, {}, {}});
    return true;
  }
  bool on_array_end(std::size_t /*n*/, json::error_code& ec) {
    json::value v(std::move(frames_.back().array));
    frames_.pop_back();
    return add(std::move(v), ec);
  }
  bool on_object_begin(json::error_code& /*ec*/) {
    frames_.push_back(Frame{true, {}, {}, {}});
    return true;
  }
  bool on_object_end(std::size_t /*n*/, json::error_code& ec) {
    json::value v(std::move(frames_.back().object));
    frames_.pop_back();
    return add(std::move(v), ec);
  }
  bool on_string_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    buffer_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t /*n*/, json::error_code& ec) {
    buffer_.append(s.data(), s.size());
    auto v = json::value(json::string(buffer_));
    buffer_.clear();
    return add(std::move(v), ec);
  }
  bool on_key_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    buffer_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t /*n*/, json::error_code& ec) {
    buffer_.append(s.data(), s.size());
    Frame& top = frames_.back();
    if (top.object.contains(buffer_)) {
      duplicate_ = true;
      ec = json::error::syntax;
      return false;
    }
    top.key = std::move(buffer_);
    buffer_.clear();
    return true;
  }
  bool on_number_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
  bool on_int64(std::int64_t i, json::string_view /*s*/, json::error_code& ec) {
    return add(json::value(i), ec);
  }
  bool on_uint64(std::uint64_t u, json::string_view /*s*/, json::error_code& ec) {
    return add(json::value(u), ec);
  }
  bool on_double(double d, json::string_view /*s*/, json::error_code& ec) {
    return add(json::value(d), ec);
  }
  bool on_bool(bool b, json::error_code& ec) { return add(json::value(b), ec); }
  bool on_null(json::error_code& ec) { return add(json::value(nullptr), ec); }
  bool on_comment_part(json::string_view /*s*/, json::error_code& /*ec*/) { return false; }
  bool on_comment(json::string_view /*s*/, json::error_code& /*ec*/) { return false; }

  json::value takeRoot() { return std::move(root_); }
  bool duplicate() const { return duplicate_; }

 private:
  struct Frame {
    bool is_object;
    json::object object;
    json::array array;
    std::string key;
  };

  bool add(json::value v, json::error_code& /*ec*/) {
    if (frames_.empty()) {
      root_ = std::move(v);
      return true;
    }
    Frame& top = frames_.back();
    if (top.is_object) {
      top.object.emplace(top.key, std::move(v));
    } else {
      top.array.push_back(std::move(v));
    }
    return true;
  }

  std::vector<Frame> frames_;
  std::string buffer_;
  json::value root_;
  bool duplicate_ = false;
};

}  // namespace

Result<boost::json::value> parseStrictJson(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return makeError(Errc::InvalidArgument, "JSON document exceeds size limit");
  }
  json::parse_options options;
  options.max_depth = limits.max_depth;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;
  json::basic_parser<StrictHandler> parser(options);
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (parser.handler().duplicate()) {
    return makeError(Errc::InvalidArgument, "duplicate JSON member name");
  }
  if (ec) return makeError(Errc::InvalidArgument, "malformed JSON: " + ec.message());
  if (used != text.size() || !parser.done()) {
    return makeError(Errc::InvalidArgument, "malformed JSON: trailing data");
  }
  return parser.handler().takeRoot();
}

}  // namespace gatehouse::core
