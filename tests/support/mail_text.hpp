#pragma once

#include <string>

#include "core/base64url.hpp"

namespace gatehouse::testing {

// The decoded text/plain part of a message mail::compose() made ("" when there is none).
inline std::string textPart(const std::string& message) {
  const auto type = message.find("Content-Type: text/plain");
  if (type == std::string::npos) return "";
  auto start = message.find("\r\n\r\n", type);
  if (start == std::string::npos) return "";
  start += 4;
  std::string base64;
  for (auto end = message.find("\r\n", start);
       end != std::string::npos && message.compare(start, 2, "--") != 0;
       start = end + 2, end = message.find("\r\n", start)) {
    base64 += message.substr(start, end - start);
  }
  return core::base64Decode(base64).value_or("");
}

}  // namespace gatehouse::testing
