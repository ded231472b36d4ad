#include "app/service_notify.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>

namespace gatehouse::app {

using core::Errc;
using core::makeError;

namespace {

// A system call's failure, for the caller to log.
tl::unexpected<core::Error> failure(std::string call, int error) {
  return makeError(Errc::Unavailable, call + ": " + std::system_category().message(error));
}

}  // namespace

core::Result<ServiceNotifier> ServiceNotifier::forSocket(std::string_view value) {
  ServiceNotifier notifier;
  if (value.empty()) return notifier;
  constexpr std::size_t kMax = sizeof(sockaddr_un::sun_path);
  if (value.find('\0') != std::string_view::npos)
    return makeError(Errc::InvalidArgument, "NOTIFY_SOCKET: holds a NUL byte");
  if (value.front() == '@') {
    // The abstract namespace: a leading NUL, then the name, its length counting (not
    // NUL-terminated).
    if (value.size() == 1)
      return makeError(Errc::InvalidArgument, "NOTIFY_SOCKET: an empty abstract name");
    if (value.size() > kMax)
      return makeError(Errc::InvalidArgument, "NOTIFY_SOCKET: the abstract name is too long");
    notifier.address_ = std::string(1, '\0') + std::string(value.substr(1));
  } else {
    if (value.front() != '/')
      return makeError(Errc::InvalidArgument,
                       "NOTIFY_SOCKET: not an absolute path or an @abstract name");
    if (value.size() >= kMax)  // room for the terminating NUL
      return makeError(Errc::InvalidArgument, "NOTIFY_SOCKET: the path is too long");
    notifier.address_ = std::string(value);
  }
  notifier.socket_ = core::UniqueFd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (notifier.socket_.get() < 0) return failure("NOTIFY_SOCKET: socket", errno);
  return notifier;
}

core::Status ServiceNotifier::send(std::string_view state) const {
  if (!active()) return {};
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::memcpy(to.sun_path, address_.data(), address_.size());
  // A path's length includes its terminating NUL (`to` is zeroed); an abstract name's does not.
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                             (address_.front() == '\0' ? 0 : 1));
  // Never blocks (a full receive queue is an error): STOPPING=1 is sent from an I/O thread.
  const ssize_t sent =
      sendto(socket_.get(), state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
             reinterpret_cast<const sockaddr*>(&to), length);
  if (sent < 0) return failure("sendto", errno);
  if (static_cast<std::size_t>(sent) != state.size())
    return makeError(Errc::Unavailable, "sendto: the message was cut short");
  return {};
}

namespace {

// A positive whole number in decimal digits only (no sign, no spaces), or nothing.
std::optional<std::uint64_t> parsePositive(std::string_view text) {
  std::uint64_t value = 0;
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

}  // namespace

core::Result<std::chrono::microseconds> watchdogTimeout(std::string_view usec, std::string_view pid,
                                                        pid_t self) {
  if (usec.empty()) return std::chrono::microseconds(0);
  if (!pid.empty()) {
    const auto owner = parsePositive(pid);
    if (!owner) return makeError(Errc::InvalidArgument, "WATCHDOG_PID: not a process id");
    if (*owner != static_cast<std::uint64_t>(self)) return std::chrono::microseconds(0);
  }
  const auto timeout = parsePositive(usec);
  // The count must fit a signed 64-bit microsecond duration (watchdogBeatEvery caps the timer).
  if (!timeout || *timeout > static_cast<std::uint64_t>(INT64_MAX))
    return makeError(Errc::InvalidArgument, "WATCHDOG_USEC: not a positive number of microseconds");
  return std::chrono::microseconds(static_cast<std::int64_t>(*timeout));
}

std::chrono::microseconds watchdogBeatEvery(std::chrono::microseconds timeout) {
  return std::clamp<std::chrono::microseconds>(timeout / 2, std::chrono::milliseconds(1),
                                               std::chrono::hours(1));
}

}  // namespace gatehouse::app
