#include "cli/interrupt.hpp"

#include <array>
#include <atomic>
#include <csignal>
#include <unistd.h>

namespace gatehouse::cli {
namespace {

constexpr std::array kSignals{SIGINT, SIGTERM, SIGHUP};
std::atomic<int> g_raised{0};  // lock-free: safe in a handler, read by any thread
static_assert(std::atomic<int>::is_always_lock_free);
std::array<struct sigaction, kSignals.size()> g_previous{};

extern "C" void note(int signal) {
  int none = 0;
  if (g_raised.compare_exchange_strong(none, signal)) {
    static constexpr char kSaid[] =
        "gatehouse: stopping at the next safe point; a second signal stops at once\n";
    (void)!::write(STDERR_FILENO, kSaid, sizeof kSaid - 1);
    return;
  }
  // A second one stops at once, as asked: a read waiting on a stalled pipe or a terminal would
  // otherwise wait on (an outside attack). Only async-signal-safe calls here.
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

}  // namespace

InterruptLatch::InterruptLatch() {
  g_raised.store(0);
  struct sigaction act {};
  act.sa_handler = note;
  sigemptyset(&act.sa_mask);
  // SA_RESTART: a write of the report a signal lands in goes on (without it the standard output
  // failed and the batch's lines were lost: a review); a read waiting on a terminal goes on too,
  // and the signal is seen at the next line or the end of the input.
  act.sa_flags = SA_RESTART;
  for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &act, &g_previous[i]);
}

InterruptLatch::~InterruptLatch() {
  for (std::size_t i = 0; i < kSignals.size(); ++i)
    ::sigaction(kSignals[i], &g_previous[i], nullptr);
}

int InterruptLatch::raised() const { return g_raised.load(); }

}  // namespace gatehouse::cli
