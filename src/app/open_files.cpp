#include "app/open_files.hpp"

#include <string>
#include <sys/resource.h>

namespace gatehouse::app {

std::uint64_t raiseOpenFileLimit() {
  rlimit now{};
  if (::getrlimit(RLIMIT_NOFILE, &now) != 0) return 0;
  if (now.rlim_cur == RLIM_INFINITY || now.rlim_cur >= now.rlim_max) return now.rlim_cur;
  // An unlimited hard limit is still bounded by fs.nr_open: its usual value, then what is.
  for (const rlim_t want :
       {now.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20U : now.rlim_max, now.rlim_cur}) {
    rlimit raised = now;
    raised.rlim_cur = want;
    if (want > now.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) return want;
  }
  return now.rlim_cur;
}

std::optional<std::string> openFileWarning(std::uint64_t limit, std::size_t max_connections) {
  if (limit == 0 || limit == RLIM_INFINITY ||
      limit >= std::uint64_t{max_connections} + kFilesBesideConnections)
    return std::nullopt;
  const std::uint64_t room = limit > kFilesBesideConnections ? limit - kFilesBesideConnections : 0;
  return "the open-file limit is " + std::to_string(limit) + ", and GATEHOUSE_MAX_CONNECTIONS is " +
         std::to_string(max_connections) + ": with about " +
         std::to_string(kFilesBesideConnections) +
         " files for the database, logs and outbound connections, clients past about " +
         std::to_string(room) +
         " connections wait unanswered until one closes. Raise the limit (ulimit -n; systemd's "
         "LimitNOFILE, 65536 in the packaged unit) or lower GATEHOUSE_MAX_CONNECTIONS";
}

}  // namespace gatehouse::app
