#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "core/files.hpp"

namespace gatehouse::audit {

// The audit log's copy as JSON lines: a file, a stream a log shipper reads (a FIFO,
// /dev/stdout), or stdout ("-"). A request never waits on it: push() queues the line and a
// writer thread of its own writes it. A reader that stopped (a full pipe, a stalled journald)
// held every request that wrote an audit record, logins included, for as long as it stayed
// stopped (an outside attack); now what exceeds the queue's budget is dropped from the copy,
// counted and logged (the database keeps every record). A failed write is counted and logged
// too, never silent. reopen() (SIGHUP) opens the path again: the file a log rotation renamed is
// let go and a new one made. Thread-safe.
class LineSink {
 public:
  // Bytes queued for the writer at most; past it lines are dropped.
  static constexpr std::size_t kDefaultBudget = std::size_t{4} << 20U;

  // "-" for the descriptor `dash` (standard output; a command's standard error); otherwise
  // core::openForAppend(path, FileOrStream). The error when it cannot be opened.
  [[nodiscard]] static core::Result<std::unique_ptr<LineSink>> open(
      const std::string& path, std::size_t budget = kDefaultBudget, int dash = 1);
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;
  // Writes what is queued (at most a few seconds' wait on a stopped reader), then stops.
  ~LineSink();
  // The same, now: the counters below then count everything pushed. Idempotent; push() after
  // it leaves the line out (counted as dropped).
  void close();

  // `line` ends with '\n'.
  void push(std::string line);
  // Opens the path again before the next write (stdout stays as it is).
  void reopen();
  // Waits until everything queued so far was written, dropped or failed (tests, shutdown).
  void flush();

  // Lines not in the copy: dropped while the queue was full, or failed to write.
  [[nodiscard]] std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  LineSink(std::string path, core::UniqueFd fd, int raw_fd, std::size_t budget);
  void run();
  // Writes all of `data`; false (errno kept) on a failure, or once a stopping sink's grace is
  // over. `done`: how much of it was written. Only the writer thread writes, reopens and reads
  // fd_.
  bool writeAll(const std::string& data, std::size_t& done);
  bool giveUp();
  void reopenNow();

  std::string path_;  // empty for stdout
  core::UniqueFd owned_;
  int fd_;
  std::size_t budget_;
  bool
      mid_line_;  // the file ends inside a line (at open, or after a write cut short): the writer's

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t pushed_ = 0;   // lines accepted into the queue
  std::uint64_t settled_ = 0;  // of them written or failed
  bool reopen_ = false;
  bool stop_ = false;
  std::chrono::steady_clock::time_point stop_deadline_;
  bool dropping_ = false;  // a streak of drops is under way (logged once)
  bool failing_ = false;   // a streak of failed writes is under way (logged once)

  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::thread writer_;
};

}  // namespace gatehouse::audit
