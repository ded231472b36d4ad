#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::mail {

// One message to compose: who from and to, and its text and HTML alternatives.
struct Mail {
  std::string from;  // "Gatehouse <noreply@example.com>" or a bare address
  std::string to;    // one address
  std::string subject;
  std::string text;
  std::string html;
};

// The whole RFC 5322 message (CRLF line ends): From, To, Subject (RFC 2047 when not ASCII), Date,
// Message-ID, MIME-Version, Auto-Submitted, and a multipart/alternative body with a text/plain
// and a text/html part, each UTF-8 in base64. InvalidArgument when a header value holds a line
// break or an address is not one address (header injection). `unix_seconds` is the Date.
[[nodiscard]] core::Result<std::string> compose(const Mail& mail, std::int64_t unix_seconds);

// The address inside "Name <addr>" or a bare address; nullopt when there is not exactly one
// plausible address (the SMTP envelope's MAIL FROM / RCPT TO).
std::optional<std::string> addressOf(std::string_view header_value);

}  // namespace gatehouse::mail
