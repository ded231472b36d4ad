#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.hpp"

namespace gatehouse::webauthn::cbor {

struct Value;
struct MapEntry;
using Array = std::vector<Value>;
using Map = std::vector<MapEntry>;  // in encoded order; keys unique

// The subset of CBOR (RFC 8949) WebAuthn uses: integers, byte and text strings, arrays, maps,
// booleans and null. Floats, tags, undefined and indefinite lengths are refused by the decoder.
struct Value {
  struct Bytes {
    std::string data;
    bool operator==(const Bytes&) const = default;
  };
  struct Text {
    std::string data;
    bool operator==(const Text&) const = default;
  };
  std::variant<std::nullptr_t, bool, std::int64_t, Bytes, Text, Array, Map> v;

  bool operator==(const Value& other) const;  // out of line: MapEntry is complete there

  const std::int64_t* integer() const { return std::get_if<std::int64_t>(&v); }
  const std::string* bytes() const {
    const auto* b = std::get_if<Bytes>(&v);
    return b != nullptr ? &b->data : nullptr;
  }
  const std::string* text() const {
    const auto* t = std::get_if<Text>(&v);
    return t != nullptr ? &t->data : nullptr;
  }
  const Array* array() const { return std::get_if<Array>(&v); }
  const Map* map() const { return std::get_if<Map>(&v); }
  // The value under an integer or text key of a map; nullptr when absent or not a map.
  const Value* at(std::int64_t key) const;
  const Value* at(std::string_view key) const;
};

struct MapEntry {
  Value first;
  Value second;
  bool operator==(const MapEntry&) const = default;
};

struct Limits {
  std::size_t max_bytes = 16 * 1024;  // checked before anything is decoded
  std::size_t max_depth = 8;          // arrays and maps nested
};

struct Decoded {
  Value value;
  std::size_t consumed = 0;  // bytes of the input the first item took
};

// Decodes the first data item of `input` with libcbor's streaming decoder (no recursion, no
// allocation from declared lengths: an item costs at least one byte of input). Strict: definite
// lengths only, map keys integers or text and never repeated, nesting within `max_depth`, text
// strings valid UTF-8. InvalidArgument naming the first problem; trailing bytes are the caller's
// (see `consumed`). Unavailable when libcbor cannot be loaded: `serve` loads it at start when
// passkeys are on and stops if it cannot, so a running server never meets this.
[[nodiscard]] core::Result<Decoded> decodePrefix(std::string_view input, const Limits& limits = {});
// As decodePrefix, and InvalidArgument unless the item spans the whole input.
[[nodiscard]] core::Result<Value> decode(std::string_view input, const Limits& limits = {});

}  // namespace gatehouse::webauthn::cbor
