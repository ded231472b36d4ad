#include "cli/interrupt.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <unistd.h>

namespace gatehouse::cli {
namespace {

constexpr std::array kSignals{SIGINT, SIGTERM, SIGHUP, SIGQUIT};
std::atomic<int> g_raised{0};  // lock-free: safe in a handler, read by any thread
std::atomic<bool> g_holding{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);
std::array<struct sigaction, kSignals.size()> g_previous{};
std::array<bool, kSignals.size()> g_installed{};

extern "C" void note(int signal) {
  const int saved = errno;  // the interrupted code may be about to read it
  int none = 0;
  if (g_raised.compare_exchange_strong(none, signal)) {
    static constexpr char kSaid[] =
        "gatehouse: stopping at the next safe point; a second interrupt stops at once unless a "
        "batch is being written\n";
    (void)!::write(STDERR_FILENO, kSaid, sizeof kSaid - 1);
  } else if (signal != SIGHUP && !g_holding.load()) {
    // A second one stops at once, as asked: a read waiting on a stalled pipe or a terminal would
    // otherwise wait on (an outside attack). Not a hangup again (a closing SSH session sends it
    // twice: bash to its jobs, then the kernel: a review), and not while committed work is being
    // finished (Hold). Only async-signal-safe calls here. SIGQUIT's own end (Ctrl-\ twice) would
    // dump core: a file of the process's memory (the import's lines, the key ring) where it ran;
    // the exit status a shell gives it instead.
    if (signal == SIGQUIT) ::_exit(128 + SIGQUIT);
    ::signal(signal, SIG_DFL);
    ::raise(signal);
  }
  errno = saved;
}

}  // namespace

InterruptLatch::InterruptLatch() {
  g_raised.store(0);
  g_holding.store(false);
  struct sigaction act {};
  act.sa_handler = note;
  sigemptyset(&act.sa_mask);
  // SA_RESTART: a write of the report a signal lands in goes on (without it the standard output
  // failed and the batch's lines were lost: a review); a read waiting on a terminal goes on too,
  // and the signal is seen at the next line or the end of the input.
  act.sa_flags = SA_RESTART;
  for (std::size_t i = 0; i < kSignals.size(); ++i) {
    // One ignored on purpose stays so (nohup; a script's background job): a review.
    struct sigaction now {};
    g_installed[i] = ::sigaction(kSignals[i], nullptr, &now) == 0 && now.sa_handler != SIG_IGN &&
                     ::sigaction(kSignals[i], &act, &g_previous[i]) == 0;
  }
}

InterruptLatch::~InterruptLatch() {
  for (std::size_t i = 0; i < kSignals.size(); ++i)
    if (g_installed[i]) ::sigaction(kSignals[i], &g_previous[i], nullptr);
}

int InterruptLatch::raised() const { return g_raised.load(); }

InterruptLatch::Hold::Hold() { g_holding.store(true); }

InterruptLatch::Hold::~Hold() { g_holding.store(false); }

}  // namespace gatehouse::cli
