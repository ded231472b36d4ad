#pragma once

namespace gatehouse::cli {

// While alive, SIGINT, SIGTERM, SIGHUP and SIGQUIT (Ctrl-C, `kill`, a closed terminal or SSH
// session, Ctrl-\ ) no longer end the process: they are noted, for a command to stop at a point
// where what it committed is whole (an import's batch and its audit records: an outside attack's
// Ctrl-C left users, administrators among them, that no record named). Interrupted calls go on
// (SA_RESTART), so the command sees one between its steps; the first says so on stderr, and a
// second one but SIGHUP ends the process at once, as the signal would have (SIGQUIT without its
// core dump: exit status 131), unless a Hold is alive (a repeated SIGHUP never does: a closing SSH
// session sends two). A signal ignored when it began (nohup) stays ignored. The previous handlers
// come back when it goes. One at a time, on any thread.
class InterruptLatch {
 public:
  InterruptLatch();
  ~InterruptLatch();
  InterruptLatch(const InterruptLatch&) = delete;
  InterruptLatch& operator=(const InterruptLatch&) = delete;

  // The signal that arrived (the first), or 0.
  [[nodiscard]] int raised() const;

  // While alive, what is under way is committed work to finish (a batch and its audit records):
  // a second signal waits for it too.
  class Hold {
   public:
    Hold();
    ~Hold();
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
  };
};

}  // namespace gatehouse::cli
