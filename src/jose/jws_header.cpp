#include "jose/jws_header.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>

namespace gatehouse::jose {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxHeaderDepth = 8;

// basic_parser events → JwsHeader. Every member name is recorded with the id of its object so
// duplicates at any depth are found by one sort at the end (no quadratic scans on hostile input).
class HeaderHandler {
 public:
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);

  bool on_document_begin(json::error_code& /*ec*/) { return true; }
  bool on_document_end(json::error_code& /*ec*/) { return true; }
  bool on_array_begin(json::error_code& /*ec*/) { return enter(false); }
  bool on_array_end(std::size_t /*n*/, json::error_code& /*ec*/) { return leave(); }
  bool on_object_begin(json::error_code& /*ec*/) { return enter(true); }
  bool on_object_end(std::size_t /*n*/, json::error_code& /*ec*/) { return leave(); }
  bool on_string_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    buffer_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    buffer_.append(s.data(), s.size());
    if (at_top_member_) takeTopString();
    buffer_.clear();
    return scalar();
  }
  bool on_key_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    buffer_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    buffer_.append(s.data(), s.size());
    names_.emplace_back(objects_[object_depth_ - 1], std::move(buffer_));
    buffer_.clear();
    at_top_member_ = object_depth_ == 1 && depth_ == 1;
    if (at_top_member_) noteTopName(names_.back().second);
    return true;
  }
  bool on_number_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
  bool on_int64(std::int64_t /*i*/, json::string_view /*s*/, json::error_code& /*ec*/) {
    return scalar();
  }
  bool on_uint64(std::uint64_t /*u*/, json::string_view /*s*/, json::error_code& /*ec*/) {
    return scalar();
  }
  bool on_double(double /*d*/, json::string_view /*s*/, json::error_code& /*ec*/) {
    return scalar();
  }
  bool on_bool(bool /*b*/, json::error_code& /*ec*/) { return scalar(); }
  bool on_null(json::error_code& /*ec*/) { return scalar(); }
  bool on_comment_part(json::string_view /*s*/, json::error_code& /*ec*/) { return false; }
  bool on_comment(json::string_view /*s*/, json::error_code& /*ec*/) { return false; }

  HeaderHandler() { names_.reserve(8); }

  HeaderParseResult finish() {
    if (!root_is_object_) return {std::nullopt, HeaderParseError::NotObject};
    std::sort(names_.begin(), names_.end());
    if (std::adjacent_find(names_.begin(), names_.end()) != names_.end()) {
      return {std::nullopt, HeaderParseError::NotJson};
    }
    if (bad_member_ || !alg_seen_) return {std::nullopt, HeaderParseError::BadMember};
    return {std::move(header_), HeaderParseError::NotJson};
  }

 private:
  bool enter(bool is_object) {
    if (depth_ == 0) root_is_object_ = is_object;
    // A container as the value of alg/kid/typ is a wrong type.
    if (at_top_member_) noteNonString();
    at_top_member_ = false;
    // The parser's max_depth bounds depth_, so the fixed stacks cannot overflow.
    container_is_object_[depth_] = is_object;
    ++depth_;
    if (is_object) objects_[object_depth_++] = next_object_id_++;
    return true;
  }
  bool leave() {
    --depth_;
    if (container_is_object_[depth_]) --object_depth_;
    return true;
  }
  bool scalar() {
    if (depth_ == 0) root_is_object_ = false;
    if (at_top_member_) noteNonString();
    at_top_member_ = false;
    return true;
  }
  void noteTopName(const std::string& name) {
    current_ = Member::Other;
    if (name == "alg") current_ = Member::Alg;
    if (name == "kid") current_ = Member::Kid;
    if (name == "typ") current_ = Member::Typ;
    if (name == "crit" || name == "b64") header_->has_crit = true;
    static constexpr std::array<std::string_view, 4> kKeySources = {"jku", "x5u", "jwk", "x5c"};
    if (std::find(kKeySources.begin(), kKeySources.end(), name) != kKeySources.end()) {
      header_->has_key_source = true;
    }
  }
  void takeTopString() {
    switch (current_) {
      case Member::Alg:
        header_->alg = buffer_;
        alg_seen_ = true;
        break;
      case Member::Kid:
        header_->kid = buffer_;
        break;
      case Member::Typ:
        header_->typ = buffer_;
        break;
      case Member::Other:
        break;
    }
    current_ = Member::Other;
    at_top_member_ = false;
  }
  void noteNonString() {
    if (current_ != Member::Other) bad_member_ = true;
    current_ = Member::Other;
  }

  enum class Member { Alg, Kid, Typ, Other };

  std::optional<JwsHeader> header_ = JwsHeader{};
  std::vector<std::pair<std::uint32_t, std::string>> names_;
  std::array<std::uint32_t, kMaxHeaderDepth + 1> objects_{};
  std::array<bool, kMaxHeaderDepth + 1> container_is_object_{};
  std::size_t object_depth_ = 0;
  std::uint32_t next_object_id_ = 0;
  std::size_t depth_ = 0;
  std::string buffer_;
  Member current_ = Member::Other;
  bool at_top_member_ = false;
  bool root_is_object_ = false;
  bool alg_seen_ = false;
  bool bad_member_ = false;
};

}  // namespace

HeaderParseResult parseJwsHeader(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxHeaderDepth;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;
  json::basic_parser<HeaderHandler> parser(options);
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || used != text.size() || !parser.done()) return {std::nullopt, HeaderParseError::NotJson};
  return parser.handler().finish();
}

}  // namespace gatehouse::jose
