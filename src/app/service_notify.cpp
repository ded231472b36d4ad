#include "app/service_notify.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>

namespace gatehouse::app {

using core::Errc;
using core::makeError;

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
    return notifier;
  }
  if (value.front() != '/')
    return makeError(Errc::InvalidArgument,
                     "NOTIFY_SOCKET: not an absolute path or an @abstract name");
  if (value.size() >= kMax)  // room for the terminating NUL
    return makeError(Errc::InvalidArgument, "NOTIFY_SOCKET: the path is too long");
  notifier.address_ = std::string(value);
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
  const auto failure = [](const char* call, int error) {
    return makeError(Errc::Unavailable,
                     std::string(call) + ": " + std::system_category().message(error));
  };
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failure("socket", errno);
  // Never blocks (a full receive queue is an error): STOPPING=1 is sent from an I/O thread.
  const ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                              reinterpret_cast<const sockaddr*>(&to), length);
  const int error = errno;
  close(fd);
  if (sent < 0) return failure("sendto", error);
  if (static_cast<std::size_t>(sent) != state.size())
    return makeError(Errc::Unavailable, "sendto: the message was cut short");
  return {};
}

}  // namespace gatehouse::app
