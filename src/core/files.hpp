#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::core {

// An open file descriptor, closed when its owner ends.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  [[nodiscard]] int get() const { return fd_; }
  // The descriptor, no longer closed here.
  [[nodiscard]] int release();
  // Closes it now, reporting whether close succeeded (a write can fail there).
  [[nodiscard]] bool close();

 private:
  int fd_;
};

// A regular file's bytes, at most `max_bytes` of them. Errors name the file: NotFound when
// nothing is there (a link to nothing included); InvalidArgument when it is not a regular file
// (a folder, a device such as /dev/zero, a FIFO: never waited on) or is larger; Unavailable when
// it cannot be read. Links to a regular file are followed (mounted secrets are links).
[[nodiscard]] Result<std::string> readSmallFile(const std::filesystem::path& path,
                                                std::size_t max_bytes);

// Writes `contents` to `path`, mode 0600: into a temporary file of a random name in the same
// folder, made exclusively (a link planted there is never followed), synced, then moved to
// `path` and the folder synced, so a crash leaves the old file or the new one. With `replace`
// false nothing at `path` (a link included) is ever replaced: AlreadyExists. Temporary files of
// `path` that earlier writes left behind when their process died (regular, ours, ten minutes
// old) are removed first.
[[nodiscard]] Status writeFileAtomically(const std::filesystem::path& path,
                                         std::string_view contents, bool replace);

// Removes the temporary files of `path` that writeFileAtomically's writes left when their process
// died (each write does so first): for a file written once and never again, such as a key made at
// the first start, whose leftover would otherwise stay a second copy of the secret.
void removeStaleTemporaries(const std::filesystem::path& path);

// What a file written by appending (the audit log, the development mail file) may be.
enum class AppendTo { File, FileOrStream };

// Whether `path` may be appended to, looked at without opening or making anything: nothing there
// yet in a folder that exists (it will be made), or a regular file, not a link, belonging to the
// user this process runs as (a file someone else planted could be read by them). With
// FileOrStream also a character device or a FIFO of this user or root, named itself (never
// through a link another account could plant), or any reached as one of the process's own
// descriptors (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N) or through /proc's own
// links. InvalidArgument naming the path otherwise, Unavailable when it cannot be looked at.
[[nodiscard]] Status appendable(const std::filesystem::path& path, AppendTo what);

// The descriptor a name spells for this process: /dev/stdout 1, /dev/stderr 2, /dev/fd/N,
// /proc/self/fd/N, /proc/thread-self/fd/N and /proc/<this pid>/fd/N N; -1 for any other name
// (an ordinary path).
[[nodiscard]] int descriptorNamed(std::string_view name);

// Whether `name` is a descriptor's link the kernel makes: one of descriptorNamed's, or
// /proc/<pid>/fd/N exactly of a process of this process's user (another user's would lend this
// one's rights to what that process holds). The only links a stream is reached through.
[[nodiscard]] bool descriptorLink(std::string_view name);

// Opens `path` to append to, once `appendable` allows it: a file never through a link, made 0600
// when missing and made 0600 when others could read it; a stream never through a link but the
// ones appendable() names, a FIFO
// nobody reads refused (ENXIO) rather than waited on. What was opened is checked again (anything
// else swapped in meanwhile is refused). Close-on-exec, blocking, never the controlling terminal.
[[nodiscard]] Result<UniqueFd> openForAppend(const std::filesystem::path& path, AppendTo what);

}  // namespace gatehouse::core
