#pragma once

#include <pthread.h>
#include <sched.h>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gatehouse::core {

// Names the calling thread as `top -H`, `ps -L` and debuggers show it (Linux keeps 15 bytes).
inline void nameThisThread(std::string_view name) {
  const std::string bounded(name.substr(0, 15));
  (void)::pthread_setname_np(::pthread_self(), bounded.c_str());
}

// Lowers the calling thread's priority (Linux nice values are per thread); 19 also selects
// SCHED_IDLE: preempted at once by any normal thread, yet free to use idle cores fully. An
// unprivileged thread cannot raise it again, so call it only on a thread that keeps it for life.
inline void lowerThisThread(int nice) {
  if (nice <= 0) return;
  const auto tid = static_cast<pid_t>(::syscall(SYS_gettid));
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice);
  if (nice >= 19) {
    sched_param param{};
    (void)::sched_setscheduler(tid, SCHED_IDLE, &param);
  }
}

}  // namespace gatehouse::core
