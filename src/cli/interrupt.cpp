#include "cli/interrupt.hpp"

#include <array>
#include <csignal>

namespace gatehouse::cli {
namespace {

constexpr std::array kSignals{SIGINT, SIGTERM, SIGHUP};
volatile std::sig_atomic_t g_raised = 0;
std::array<struct sigaction, kSignals.size()> g_previous{};

extern "C" void note(int signal) {
  if (g_raised == 0) g_raised = signal;
}

}  // namespace

InterruptLatch::InterruptLatch() {
  g_raised = 0;
  struct sigaction act {};
  act.sa_handler = note;
  sigemptyset(&act.sa_mask);
  act.sa_flags = 0;  // no SA_RESTART: a read waiting on a terminal returns
  for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &act, &g_previous[i]);
}

InterruptLatch::~InterruptLatch() {
  for (std::size_t i = 0; i < kSignals.size(); ++i)
    ::sigaction(kSignals[i], &g_previous[i], nullptr);
}

int InterruptLatch::raised() const { return g_raised; }

}  // namespace gatehouse::cli
