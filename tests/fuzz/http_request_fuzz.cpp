// libFuzzer target for the HTTP/1.1 request parser: every connection's bytes pass through it
// before anything else. Fails on any crash or sanitizer report, on a request parsed differently
// when its bytes arrive in pieces, and on one accepted here that Boost.Beast (an independent
// parser) refuses or frames differently: two parsers on one path disagreeing about where a request
// ends is request smuggling. The pieces are 1 to 16 bytes, chosen by the input's first byte.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/request_parser.hpp"
#include "support/beast_oracle.hpp"
#include "support/http_wire.hpp"

namespace {

using gatehouse::http::ParserLimits;
using gatehouse::http::RequestParser;

constexpr ParserLimits kLimits{.max_header_bytes = 2048, .max_body_bytes = 4096};

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
  const auto differs =
      gatehouse::testing::disagreement(gatehouse::testing::parsedBy(whole, true, used),
                                       gatehouse::testing::parsedByBeast(wire, kLimits));
  if (!differs.empty()) std::abort();
  return 0;
}
