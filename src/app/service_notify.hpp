#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "core/error.hpp"
#include "core/files.hpp"

namespace gatehouse::app {

// systemd's readiness protocol (sd_notify(3)), without libsystemd: with `Type=notify` the service
// manager passes a datagram socket in NOTIFY_SOCKET and counts the service as started only when
// it says READY=1, so `systemctl start` waits for the listening socket (and reports a start that
// fails, such as a migration error, as a failed start) and units ordered after it start when it
// answers. Outside systemd NOTIFY_SOCKET is unset and nothing is sent.
class ServiceNotifier {
 public:
  // No socket: send() does nothing.
  ServiceNotifier() = default;

  // The socket named by NOTIFY_SOCKET's value: an absolute path, or "@name" for a name in the
  // abstract namespace (what systemd passes). An empty value (an absent variable) gives no socket;
  // anything else (a relative path, a name longer than a socket address holds, systemd 254's
  // "vsock:CID:PORT") is an InvalidArgument naming the problem. The datagram socket it sends
  // from is opened here, once (Unavailable if it cannot be): WATCHDOG=1 goes out every few
  // seconds, and a server at its open-file limit must still say it, or the service manager
  // kills a server that is waiting for connections to close.
  static core::Result<ServiceNotifier> forSocket(std::string_view value);

  bool active() const { return !address_.empty(); }

  // One datagram of newline-separated assignments ("READY=1\nSTATUS=listening on ..."), sent
  // without blocking. Safe from several threads at once (each call is one sendto).
  core::Status send(std::string_view state) const;

 private:
  std::string address_;  // sun_path's bytes; the abstract namespace's start with '\0'
  core::UniqueFd socket_;
};

// systemd's watchdog timeout (WatchdogSec=, sd_watchdog_enabled(3)) from WATCHDOG_USEC and
// WATCHDOG_PID: zero when unset or meant for another process than `self` (a child inherits the
// variables); InvalidArgument naming the variable when a value is not a positive whole number.
core::Result<std::chrono::microseconds> watchdogTimeout(std::string_view usec, std::string_view pid,
                                                        pid_t self);

// How often to say WATCHDOG=1 for a watchdog `timeout` (non-zero): half of it, but at least every
// hour (a timer of half of the largest timeout would overflow) and at most every millisecond.
std::chrono::microseconds watchdogBeatEvery(std::chrono::microseconds timeout);

}  // namespace gatehouse::app
