// libFuzzer target for the HTTP/1.1 request parser: every connection's bytes pass through it
// before anything else. Fails on any crash or sanitizer report, on a request parsed differently
// when its bytes arrive in pieces, and on one accepted here that Boost.Beast (an independent
// parser) refuses or frames differently: two parsers on one path disagreeing about where a request
// ends is request smuggling. The pieces are 1 to 16 bytes, chosen by the input's first byte.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>

#include "http/request_parser.hpp"
#include "support/http_wire.hpp"

namespace {

using gatehouse::http::ParserLimits;
using gatehouse::http::RequestParser;

constexpr ParserLimits kLimits{.max_header_bytes = 2048, .max_body_bytes = 4096};

bool beastAgrees(std::string_view wire, RequestParser& ours, std::size_t consumed) {
  namespace bhttp = boost::beast::http;
  std::size_t at = 0;
  while (wire.substr(at, 2) == "\r\n") at += 2;  // RFC 9112 §2.2, which Beast does not do
  bhttp::request_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.header_limit(static_cast<std::uint32_t>(kLimits.max_header_bytes));
  parser.body_limit(kLimits.max_body_bytes);
  boost::system::error_code ec;
  while (!parser.is_done()) {
    const auto n = parser.put(boost::asio::buffer(wire.data() + at, wire.size() - at), ec);
    at += n;
    if (ec || n == 0) return false;
  }
  const auto& msg = parser.get();
  const auto& req = ours.request();
  // Beast's keep_alive() reads only the first Connection field; ours reads them all (RFC 9110
  // §5.3), so they are compared only where there is at most one.
  const bool one_connection = msg.count(bhttp::field::connection) <= 1;
  if (at != consumed || msg.method_string() != req.method || msg.target() != req.target ||
      msg.body() != req.body || (one_connection && msg.keep_alive() != ours.keepAlive()))
    return false;
  // Beast keeps fields of one name together (a later one moves up to the earlier ones), so the
  // fields are compared as sorted lists.
  std::vector<std::pair<std::string, std::string>> theirs;
  for (const auto& f : msg) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    theirs.emplace_back(std::move(name), std::string(f.value()));
  }
  auto mine = req.headers;
  std::sort(mine.begin(), mine.end());
  std::sort(theirs.begin(), theirs.end());
  // A chunked body's trailers are among Beast's fields; ours drops them.
  if (ours.request().header("transfer-encoding"))
    return std::includes(theirs.begin(), theirs.end(), mine.begin(), mine.end());
  return mine == theirs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view wire(reinterpret_cast<const char*>(data), size);
  RequestParser whole(kLimits);
  std::size_t used = 0;
  const auto result = whole.parse(wire, used);
  if (used > wire.size()) std::abort();
  RequestParser split(kLimits);
  const auto pieces =
      gatehouse::testing::feedInPieces(split, wire, size == 0 ? 1 : 1 + data[0] % 16);
  if (pieces.result != result) std::abort();
  if (result == RequestParser::Result::Refused && split.refusal() != whole.refusal()) std::abort();
  if (result != RequestParser::Result::Done) return 0;
  if (pieces.consumed != used || split.request().headers != whole.request().headers ||
      split.request().body != whole.request().body)
    std::abort();
  if (!beastAgrees(wire, whole, used)) std::abort();
  return 0;
}
