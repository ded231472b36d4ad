#include "core/files.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gatehouse::core {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The name a write of `filename` gives its temporary file (mkostemp fills the X's): marked as
// ours, so the sweep below never takes an operator's `.name.backup` for one.
std::string temporaryPrefix(const std::string& filename) {
  return "." + filename + ".gatehouse-tmp.";
}

// Temporary files an earlier write of `filename` left in `dir` when its process died between
// making one and moving it in place: regular files of ours, named by temporaryPrefix and six
// characters, untouched for ten minutes (a live write keeps one for milliseconds). Removed, so
// crashes do not pile up copies of a secret. Looked at and removed relative to the folder opened
// once (a folder swapped meanwhile is not followed); links and anything else are left alone.
void removeStaleTemporaries(const std::filesystem::path& dir, const std::string& filename) {
  constexpr auto kStale = std::chrono::minutes(10);
  const std::string prefix = temporaryPrefix(filename);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  DIR* listing = ::fdopendir(dfd);
  if (listing == nullptr) {
    ::close(dfd);
    return;
  }
  const auto now = std::chrono::system_clock::now();
  while (const dirent* entry = ::readdir(listing)) {
    const std::string_view name = entry->d_name;
    const bool named =
        name.size() == prefix.size() + 6 && name.starts_with(prefix) &&
        std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(),
                    [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
    struct stat st {};
    if (!named || ::fstatat(dfd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode) || st.st_uid != ::geteuid())
      continue;
    if (now - std::chrono::system_clock::from_time_t(st.st_mtime) > kStale)
      ::unlinkat(dfd, entry->d_name, 0);
  }
  ::closedir(listing);  // closes dfd too
}

}  // namespace

Result<std::string> readSmallFile(const std::filesystem::path& path, std::size_t max_bytes) {
  const std::string name = path.string();
  // Looked at before it is opened: a device is never opened (some act on open), a FIFO never
  // waited on. fstat below checks what was opened.
  std::error_code ec;
  const auto type = std::filesystem::status(path, ec).type();
  if (type != std::filesystem::file_type::regular &&
      type != std::filesystem::file_type::not_found && !ec)
    return makeError(Errc::InvalidArgument, "cannot read " + name + ": not a regular file");
  // O_NONBLOCK: a FIFO swapped in meanwhile is not waited on either.
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return makeError(Errc::NotFound, "cannot read " + name + ": no such file");
    return makeError(Errc::Unavailable, "cannot read " + name + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return makeError(Errc::Unavailable, "cannot read " + name + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return makeError(Errc::InvalidArgument, "cannot read " + name + ": not a regular file");
  if (static_cast<std::uintmax_t>(st.st_size) > max_bytes)
    return makeError(Errc::InvalidArgument, "cannot read " + name + ": larger than " +
                                                std::to_string(max_bytes) + " bytes");
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return makeError(Errc::Unavailable, "cannot read " + name + ": " + std::strerror(errno));
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
    // A file that grew since fstat is read no further than the limit.
    if (out.size() > max_bytes)
      return makeError(Errc::InvalidArgument, "cannot read " + name + ": larger than " +
                                                  std::to_string(max_bytes) + " bytes");
  }
  return out;
}

Status writeFileAtomically(const std::filesystem::path& path, std::string_view contents,
                           bool replace) {
  const std::string name = path.string();
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  removeStaleTemporaries(dir, path.filename().string());
  std::string tmp = (dir / (temporaryPrefix(path.filename().string()) + "XXXXXX")).string();
  // mkostemp: O_CREAT|O_EXCL (a planted name, or a link, fails rather than being followed), mode
  // 0600, a random name.
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0)
    return makeError(Errc::Unavailable, "cannot write " + name + ": " + std::strerror(errno));
  const bool written = writeAll(fd.get(), contents) && ::fsync(fd.get()) == 0;
  if (!fd.close() || !written) {
    ::unlink(tmp.c_str());
    return makeError(Errc::Unavailable, "cannot write " + name);
  }
  if (replace) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      return makeError(Errc::Unavailable, "cannot write " + name + ": " + std::strerror(err));
    }
  } else {
    // link() never replaces anything, a dangling link included. A file system without hard links
    // (vfat, some FUSE ones) gets rename without replacing, where it has that.
    const auto unsupported = [](int e) {
      return e == EPERM || e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS;
    };
    int placed = ::link(tmp.c_str(), path.c_str());
    int err = errno;
    if (placed != 0 && unsupported(err)) {
      placed = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
      err = errno;
    }
    ::unlink(tmp.c_str());  // after a link; after a rename there is nothing left to remove
    if (placed != 0 && unsupported(err)) {
      // Neither (some FUSE file systems): made in place, exclusively and never through a link. A
      // reader racing the write may see it short; a key file short is refused, not used.
      Fd direct(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      placed = direct.get() < 0 ? -1 : 0;
      err = errno;
      if (placed == 0 &&
          !(writeAll(direct.get(), contents) && ::fsync(direct.get()) == 0 && direct.close())) {
        ::unlink(path.c_str());
        return makeError(Errc::Unavailable, "cannot write " + name);
      }
    }
    if (placed != 0) {
      if (err == EEXIST) return makeError(Errc::AlreadyExists, name + " exists");
      return makeError(Errc::Unavailable, "cannot write " + name + ": " + std::strerror(err));
    }
  }
  // The rename survives a power loss only once the folder is synced: a key-encryption key lost
  // that way would leave the database's keys sealed under nothing anyone has.
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0 || ::fsync(dfd.get()) != 0)
    return makeError(Errc::Unavailable, "cannot sync " + dir.string());
  return {};
}

}  // namespace gatehouse::core
