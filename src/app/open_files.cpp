#include "app/open_files.hpp"

#include <fstream>
#include <string>
#include <sys/resource.h>

namespace gatehouse::app {

namespace {

// The most any process may open (fs.nr_open); 0 when it cannot be read.
rlim_t systemMost() {
  std::ifstream in("/proc/sys/fs/nr_open");
  unsigned long long most = 0;
  return in >> most ? static_cast<rlim_t>(most) : 0;
}

}  // namespace

std::uint64_t raiseOpenFileLimit() {
  rlimit now{};
  if (::getrlimit(RLIMIT_NOFILE, &now) != 0) return 0;
  if (now.rlim_cur == RLIM_INFINITY || now.rlim_cur >= now.rlim_max) return now.rlim_cur;
  rlimit raised = now;
  raised.rlim_cur = now.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
  // A hard limit above fs.nr_open (lowered since) is refused: the system's most instead.
  if (const rlim_t most = systemMost(); most > now.rlim_cur && most < now.rlim_max) {
    raised.rlim_cur = most;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return most;
  }
  return now.rlim_cur;
}

std::optional<std::string> openFileWarning(std::uint64_t limit, std::size_t max_connections,
                                           std::size_t database_connections) {
  const std::uint64_t beside = kFilesBesideConnections + database_connections;
  if (limit == 0 || limit == RLIM_INFINITY || limit >= std::uint64_t{max_connections} + beside)
    return std::nullopt;
  const std::uint64_t room = limit > beside ? limit - beside : 0;
  return "the open-file limit is " + std::to_string(limit) + ", and GATEHOUSE_MAX_CONNECTIONS is " +
         std::to_string(max_connections) + ": with about " + std::to_string(beside) +
         " files for the database, logs and outbound connections, clients past about " +
         std::to_string(room) +
         " connections wait unanswered until one closes. Raise the limit (ulimit -n; systemd's "
         "LimitNOFILE, 65536 in the packaged unit) or lower GATEHOUSE_MAX_CONNECTIONS";
}

}  // namespace gatehouse::app
