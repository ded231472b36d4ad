#pragma once

namespace gatehouse::core {

// Marks the current thread, for the scope's lifetime, as one that must not wait on storage or the
// network: an I/O thread trying to answer a request inline. Code that would block checks
// mayBlock() and answers Errc::WouldBlock, and the request moves to a worker thread instead.
class NonBlockingScope {
 public:
  NonBlockingScope();
  NonBlockingScope(const NonBlockingScope&) = delete;
  NonBlockingScope& operator=(const NonBlockingScope&) = delete;
  ~NonBlockingScope();

 private:
  bool previous_;
};

// False inside a NonBlockingScope on this thread.
bool mayBlock();

}  // namespace gatehouse::core
