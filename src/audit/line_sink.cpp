#include "audit/line_sink.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.hpp"
#include "core/this_thread.hpp"

namespace gatehouse::audit {

namespace {

// A write of at most this much after poll() said there is room does not block: a pipe takes a
// page, a socket half its buffer.
constexpr std::size_t kChunk = 4096;
// How long a stopping sink still waits on a reader that does not read.
constexpr auto kStopGrace = std::chrono::seconds(3);

// Whether a regular file's last byte is not a newline: a write before ours (a crash, a full disk,
// this process before a reopen of the same file) stopped inside a line. `fd` is open for
// appending only, so the byte is read through `path`, when that is still the same file. A stream:
// never known.
bool endsInsideALine(int fd, const std::string& path) {
  struct stat appended {};
  if (path.empty() || ::fstat(fd, &appended) != 0 || !S_ISREG(appended.st_mode) ||
      appended.st_size == 0)
    return false;
  const int reader = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (reader < 0) return false;
  struct stat named {};
  char last = '\n';
  const bool same = ::fstat(reader, &named) == 0 && named.st_dev == appended.st_dev &&
                    named.st_ino == appended.st_ino;
  const bool torn = same && named.st_size > 0 &&
                    ::pread(reader, &last, 1, named.st_size - 1) == 1 && last != '\n';
  ::close(reader);
  return torn;
}

}  // namespace

core::Result<std::unique_ptr<LineSink>> LineSink::open(const std::string& path, std::size_t budget,
                                                       int dash) {
  if (path == "-")
    return std::unique_ptr<LineSink>(new LineSink("", core::UniqueFd(), dash, budget));
  // The events name users and addresses: a file of ours, owner-only, never through a link; or a
  // stream (/dev/stdout, a FIFO a log shipper reads), one nobody reads refused, not waited on.
  auto fd = core::openForAppend(path, core::AppendTo::FileOrStream);
  if (!fd) return tl::unexpected(fd.error());
  const int raw = fd->get();
  return std::unique_ptr<LineSink>(new LineSink(path, std::move(*fd), raw, budget));
}

LineSink::LineSink(std::string path, core::UniqueFd fd, int raw_fd, std::size_t budget)
    : path_(std::move(path)),
      owned_(std::move(fd)),
      fd_(raw_fd),
      budget_(budget),
      mid_line_(endsInsideALine(fd_, path_)) {
  writer_ = std::thread([this] { run(); });
}

LineSink::~LineSink() { close(); }

void LineSink::close() {
  {
    const std::lock_guard lock(mutex_);
    if (stop_) return;
    stop_ = true;
    stop_deadline_ = std::chrono::steady_clock::now() + kStopGrace;
  }
  wake_.notify_all();
  writer_.join();
}

void LineSink::push(std::string line) {
  {
    const std::lock_guard lock(mutex_);
    if (stop_ || queued_bytes_ + line.size() > budget_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      if (!dropping_) {
        dropping_ = true;
        spdlog::error(
            "the audit log file's reader is not keeping up: records are left out of it (the "
            "database keeps them; gatehouse_audit_copy_lost_total counts them)");
      }
      return;
    }
    if (dropping_) {
      dropping_ = false;
      spdlog::warn("the audit log file takes records again");
    }
    queued_bytes_ += line.size();
    queue_.push_back(std::move(line));
    ++pushed_;
  }
  wake_.notify_one();
}

void LineSink::reopen() {
  {
    const std::lock_guard lock(mutex_);
    reopen_ = true;
  }
  wake_.notify_one();
}

void LineSink::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = pushed_;
  drained_.wait(lock, [&] { return settled_ >= target; });
}

void LineSink::run() {
  core::nameThisThread("gh-audit");
  // A reader that went away makes a write fail with EPIPE, a file size limit (LimitFSIZE) with
  // EFBIG. The program ignores both signals; blocked here as well, neither could end a process
  // that did not (a test, another program).
  sigset_t write_signals;
  sigemptyset(&write_signals);
  sigaddset(&write_signals, SIGPIPE);
  sigaddset(&write_signals, SIGXFSZ);
  pthread_sigmask(SIG_BLOCK, &write_signals, nullptr);
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || reopen_ || !queue_.empty(); });
    if (reopen_) {
      reopen_ = false;
      lock.unlock();
      reopenNow();
      lock.lock();
    }
    if (queue_.empty()) {
      if (stop_) break;
      continue;
    }
    // Whole lines, at most a chunk unless one line is longer: each write() then holds whole
    // lines, which a pipe and an O_APPEND file keep together (a command appending to the same
    // file or FIFO never lands inside one of ours; a review).
    std::string batch;
    std::uint64_t lines = 0;
    while (!queue_.empty() && (batch.empty() || batch.size() + queue_.front().size() <= kChunk)) {
      batch += queue_.front();
      queued_bytes_ -= queue_.front().size();
      queue_.pop_front();
      ++lines;
    }
    lock.unlock();
    // A write that stopped inside a line (a full disk, or a file found so) left it torn: the next
    // begins a line of its own, so the copy loses that record, never the one after glued to it.
    // The newline goes apart, so each batch's write still holds whole lines (at most a chunk).
    std::size_t done = 0;
    if (mid_line_ && writeAll("\n", done)) mid_line_ = false;
    bool written = false;
    if (!mid_line_) {
      written = writeAll(batch, done);
      if (done > 0) mid_line_ = batch[done - 1] != '\n';
    }
    const int error = errno;
    lock.lock();
    settled_ += lines;
    if (!written) {
      failed_.fetch_add(lines, std::memory_order_relaxed);
      if (!failing_) {
        failing_ = true;
        spdlog::error(
            "writing the audit log file failed ({}): records are left out of it (the database "
            "keeps them; gatehouse_audit_copy_lost_total counts them)",
            std::strerror(error));
      }
      // Stopping, past the grace: the rest is given up at once, not a poll's wait per batch (a
      // review: a full queue held the shutdown past the service manager's patience).
      if (stop_ && std::chrono::steady_clock::now() >= stop_deadline_) {
        failed_.fetch_add(queue_.size(), std::memory_order_relaxed);
        settled_ += queue_.size();
        queue_.clear();
        queued_bytes_ = 0;
      }
    } else if (failing_) {
      failing_ = false;
      spdlog::warn("the audit log file is written again");
    }
    drained_.notify_all();
  }
  drained_.notify_all();
}

bool LineSink::giveUp() {
  const std::lock_guard lock(mutex_);
  return stop_ && std::chrono::steady_clock::now() >= stop_deadline_;
}

bool LineSink::writeAll(const std::string& data, std::size_t& done) {
  done = 0;
  while (done < data.size()) {
    pollfd p{fd_, POLLOUT, 0};
    const int ready = ::poll(&p, 1, 250);
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) {
      if (giveUp()) {
        errno = ETIMEDOUT;
        return false;
      }
      continue;
    }
    // A batch of whole lines goes in one write; only a line longer than a chunk is split.
    const std::size_t n = data.size() - done <= kChunk ? data.size() - done : kChunk;
    const ssize_t wrote = ::write(fd_, data.data() + done, n);
    if (wrote < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    done += static_cast<std::size_t>(wrote);
  }
  return true;
}

void LineSink::reopenNow() {
  if (path_.empty()) return;  // stdout: the service manager's to rotate
  auto fd = core::openForAppend(path_, core::AppendTo::FileOrStream);
  if (!fd) {
    spdlog::error("reopening the audit log file failed, still writing the one open: {}",
                  fd.error().message);
    return;
  }
  fd_ = fd->get();
  owned_ = std::move(*fd);
  mid_line_ = endsInsideALine(fd_, path_);
  spdlog::info("audit log file reopened");
}

}  // namespace gatehouse::audit
