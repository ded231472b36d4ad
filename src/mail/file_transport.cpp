#include <cerrno>
#include <ctime>
#include <sys/file.h>
#include <system_error>
#include <unistd.h>

#include "core/files.hpp"
#include "mail/transport.hpp"

namespace gatehouse::mail {
namespace {

// mboxrd: a "From " line starts each message; body lines matching ^>*From  gain one '>'.
std::string mboxEntry(std::string_view message, std::int64_t now) {
  const std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
  std::string out = "From MAILER-DAEMON " + std::string(date) + "\n";
  std::size_t pos = 0;
  while (pos < message.size()) {
    auto end = message.find('\n', pos);
    if (end == std::string_view::npos) end = message.size();
    std::string_view line = message.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto first = line.find_first_not_of('>');
    if (first != std::string_view::npos && line.substr(first).starts_with("From ")) out += '>';
    out.append(line);
    out += '\n';
    pos = end + 1;
  }
  out += '\n';
  return out;
}

class FileTransport final : public Transport {
 public:
  explicit FileTransport(std::filesystem::path path) : path_(std::move(path)) {}

  core::Status send(std::string_view, std::string_view, std::string_view message) override {
    const std::string entry = mboxEntry(message, std::time(nullptr));
    // Its links hold live tokens: a file of ours, owner-only, never through a link; anything else
    // put in its place is refused (a FIFO never waited on, a terminal never taken).
    auto opened = core::openForAppend(path_, core::AppendTo::File);
    if (!opened) return core::makeError(core::Errc::Unavailable, opened.error().message);
    const int fd = opened->get();
    // Other processes appending to the same file (several nodes in development) wait their turn.
    if (::flock(fd, LOCK_EX) != 0) return fail("lock");
    std::size_t written = 0;
    while (written < entry.size()) {
      const ssize_t n = ::write(fd, entry.data() + written, entry.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail("write");
      written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return fail("fsync");
    (void)opened->close();  // releases the lock
    return {};
  }

  std::string describe() const override { return "mbox file " + path_.string(); }

 private:
  core::Status fail(const char* what) const {
    return core::makeError(core::Errc::Unavailable,
                           std::string(what) + " " + path_.string() + ": " +
                               std::error_code(errno, std::generic_category()).message());
  }

  std::filesystem::path path_;
};

}  // namespace

std::unique_ptr<Transport> fileTransport(std::filesystem::path path) {
  return std::make_unique<FileTransport>(std::move(path));
}

}  // namespace gatehouse::mail
