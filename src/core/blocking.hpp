#pragma once

namespace gatehouse::core {

// Whether a call may wait on storage or the network. An I/O thread trying to answer a request
// from memory passes No; a call that would have to wait then answers Errc::WouldBlock and the
// request moves to a worker thread, which passes Yes.
enum class Wait { Yes, No };

// Marks the calling thread, for the scope's life, as one that must not wait on storage or the
// network: an HTTP I/O thread, and a handler run with Wait::No. The storage pools, the Redis
// client and the outbound HTTP and SMTP calls check it in debug builds (the asan preset runs
// every test so), so a call that would block an I/O thread fails the tests that reach it instead
// of stalling every connection on the thread. (Waits for a password hash are not checked: they
// happen on the lanes' workers, and no inline route hashes.) Scopes nest.
class NoWaitScope {
 public:
  NoWaitScope() noexcept { ++depth(); }
  ~NoWaitScope() { --depth(); }
  NoWaitScope(const NoWaitScope&) = delete;
  NoWaitScope& operator=(const NoWaitScope&) = delete;

  // Whether the calling thread is inside a scope.
  static bool active() noexcept { return depth() > 0; }

 private:
  static int& depth() noexcept {
    static thread_local int d = 0;
    return d;
  }
};

}  // namespace gatehouse::core
