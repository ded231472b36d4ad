#pragma once
// Offering bytes to the HTTP/1.1 request parser as a connection's reads do, and damaging
// well-formed requests at random: shared by the parser's unit tests and its fuzz target.

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>

#include "http/request_parser.hpp"

namespace gatehouse::testing {

struct Fed {
  http::RequestParser::Result result;
  std::size_t consumed;
};

// Offers `wire` to the parser `step` bytes at a time: unconsumed bytes are offered again
// together with the next piece, as a connection's reads would.
inline Fed feedInPieces(http::RequestParser& parser, std::string_view wire, std::size_t step) {
  std::string pending;
  std::size_t pos = 0;
  std::size_t total = 0;
  for (;;) {
    const std::size_t n = std::min(step, wire.size() - pos);
    pending.append(wire.substr(pos, n));
    pos += n;
    std::size_t used = 0;
    const auto r = parser.parse(pending, used);
    total += used;
    pending.erase(0, used);
    if (r != http::RequestParser::Result::NeedMore || pos == wire.size()) return {r, total};
  }
}

// One to three random edits (replace, insert, delete) from characters that matter to HTTP
// framing.
inline std::string damaged(std::string wire, std::mt19937& rng) {
  static const std::string kAlphabet("\r\n :;,\t0aF\x7f\x80-/H\0", 16);
  for (unsigned edits = 1 + rng() % 3; edits > 0 && !wire.empty(); --edits) {
    const std::size_t at = rng() % wire.size();
    const char c = kAlphabet[rng() % kAlphabet.size()];
    switch (rng() % 3) {
      case 0:
        wire[at] = c;
        break;
      case 1:
        wire.insert(wire.begin() + static_cast<std::ptrdiff_t>(at), c);
        break;
      default:
        wire.erase(at, 1);
    }
  }
  return wire;
}

}  // namespace gatehouse::testing
