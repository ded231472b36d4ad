#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/error.hpp"

namespace gatehouse::mail {

// Hands one composed message to its next hop. Implementations MUST be thread-safe.
class Transport {
 public:
  virtual ~Transport() = default;
  // Unavailable when the next hop could not take the message (retry later); InvalidArgument when
  // it refused the message or the recipient for good. The error message never holds a secret.
  [[nodiscard]] virtual core::Status send(std::string_view envelope_from,
                                          std::string_view envelope_to,
                                          std::string_view message) = 0;
  // Where messages go, for the log (no password).
  virtual std::string describe() const = 0;
};

// SMTP with libcurl: smtp:// with STARTTLS required (unless `starttls` is false: then TLS when
// offered), or smtps://; AUTH from the URL's user and password; the peer's certificate always
// verified (`ca_file` replaces the system bundle when set); bounded connect and transfer times.
std::unique_ptr<Transport> smtpTransport(std::string url, bool starttls, std::string ca_file);

// Development: appends each message to an mbox file (mode 0600, mboxrd quoting), flushed to disk
// before send() returns.
std::unique_ptr<Transport> fileTransport(std::filesystem::path path);

// The configured transport: SMTP_URL, MAIL_FILE, or none (nullptr).
std::unique_ptr<Transport> transportFor(const config::MailConfig& config);

}  // namespace gatehouse::mail
