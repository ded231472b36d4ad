#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::jose {

// The protected header of a compact JWS, reduced to what verification needs. Parsed without
// building a DOM: the header is read on every authenticated request.
struct JwsHeader {
  std::string alg;
  std::optional<std::string> kid;
  std::optional<std::string> typ;
  bool has_crit = false;        // `crit` or `b64` (extensions we do not implement)
  bool has_key_source = false;  // `jku`, `x5u`, `jwk` or `x5c`
};

enum class HeaderParseError {
  NotJson,    // invalid JSON, invalid UTF-8, duplicate member names (at any depth), too deep
  NotObject,  // valid JSON but not an object
  BadMember,  // `alg` missing or not a string, `kid`/`typ` not strings
};

// Strict parse of the decoded header bytes (RFC 7515 §4, RFC 8725 §3.2).
struct HeaderParseResult {
  std::optional<JwsHeader> header;
  HeaderParseError error = HeaderParseError::NotJson;
};
HeaderParseResult parseJwsHeader(std::string_view json);

}  // namespace gatehouse::jose
