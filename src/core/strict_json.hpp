#pragma once

#include <cstddef>
#include <string_view>

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include "core/error.hpp"

namespace gatehouse::core {

struct JsonLimits {
  std::size_t max_bytes = 1U << 20U;
  std::size_t max_depth = 32;
};

// Parses one JSON document strictly: RFC 8259 only (no comments, trailing commas or NaN), valid
// UTF-8, nesting bounded, and duplicate member names rejected (RFC 7515 §5.2, RFC 8725 §3.2).
// Returns InvalidArgument with the reason on any violation.
// Values are allocated from `storage` (default: the heap).
[[nodiscard]] Result<boost::json::value> parseStrictJson(std::string_view text,
                                                         const JsonLimits& limits = {},
                                                         boost::json::storage_ptr storage = {});

}  // namespace gatehouse::core
