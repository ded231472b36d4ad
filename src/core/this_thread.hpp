#pragma once

#include <cerrno>
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

// Whether lowerThisThread can work in this process: the same calls, asking for what the calling
// thread already has (allowed to any process), fail only where they are denied outright, as a
// seccomp filter such as systemd's `SystemCallFilter=~@resources` does.
inline bool threadPriorityCanBeLowered() {
  const auto tid = static_cast<pid_t>(::syscall(SYS_gettid));
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
  if (nice == -1 && errno != 0) return false;
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) != 0) return false;
  sched_param param{};
  const int policy = ::sched_getscheduler(tid);
  if (policy < 0 || ::sched_getparam(tid, &param) != 0) return false;
  return ::sched_setscheduler(tid, policy, &param) == 0;
}

}  // namespace gatehouse::core
