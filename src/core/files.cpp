#include "core/files.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace gatehouse::core {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

bool UniqueFd::close() {
  const int fd = release();
  return fd >= 0 && ::close(fd) == 0;
}

namespace {

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

bool isStream(mode_t mode) { return S_ISCHR(mode) || S_ISFIFO(mode); }

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
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
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
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
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
      UniqueFd direct(
          ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
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
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0 || ::fsync(dfd.get()) != 0)
    return makeError(Errc::Unavailable, "cannot sync " + dir.string());
  return {};
}

void removeStaleTemporaries(const std::filesystem::path& path) {
  removeStaleTemporaries(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."),
                         path.filename().string());
}

namespace {

// This process's number as the mounted /proc knows it (a review: getpid() is another number when
// /proc belongs to another PID namespace, and names another process there); "" when unknown.
std::string procSelf() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self", ec);
  return ec ? std::string() : self.string();
}

// "/proc/<digits>/fd/<digits>": the process's number, else "".
std::string_view procDescriptorProcess(std::string_view name) {
  constexpr std::string_view kProc = "/proc/";
  if (!name.starts_with(kProc)) return {};
  name.remove_prefix(kProc.size());
  const auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  const std::size_t slash = name.find('/');
  if (slash == std::string_view::npos || !digits(name.substr(0, slash))) return {};
  if (!name.substr(slash).starts_with("/fd/") || !digits(name.substr(slash + 4))) return {};
  return name.substr(0, slash);
}

}  // namespace

int descriptorNamed(std::string_view name) {
  if (name == "/dev/stdout") return STDOUT_FILENO;
  if (name == "/dev/stderr") return STDERR_FILENO;
  std::optional<std::string_view> digits;
  for (const std::string_view prefix :
       {std::string_view("/dev/fd/"), std::string_view("/proc/self/fd/"),
        std::string_view("/proc/thread-self/fd/")}) {
    if (name.starts_with(prefix)) digits = name.substr(prefix.size());
  }
  // This process by its number, as /proc knows it: read only for such a name.
  if (const auto process = procDescriptorProcess(name);
      !digits && !process.empty() && process == procSelf())
    digits = name.substr(name.find("/fd/") + 4);
  if (!digits || digits->empty()) return -1;
  int fd = -1;
  const auto [end, ec] = std::from_chars(digits->data(), digits->data() + digits->size(), fd);
  return ec == std::errc() && end == digits->data() + digits->size() ? fd : -1;
}

namespace {

// /proc/<pid>/fd/<n> exactly, of a process of this user: a descriptor's link the kernel makes
// (/proc/1/fd/1, a container's output). Not any path under /proc (a review: /proc/self/root/...
// and /proc/self/cwd/... pass through links an account may plant), nor another user's process
// (a second review: opened through it, the kernel grants this process's rights, so root reopened
// for writing a device the service's process held, even read-only or O_PATH).
bool procDescriptor(std::string_view name) {
  const std::string process(procDescriptorProcess(name));  // self, thread-self: descriptorNamed's
  if (process.empty()) return false;
  // Its uids as the kernel states them (the owner of /proc/<pid> is root for a process that made
  // itself non-dumpable): real, effective, saved and file system alike this process's.
  std::ifstream status("/proc/" + process + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with("Uid:")) continue;
    std::istringstream uids(line.substr(4));
    int seen = 0;
    for (unsigned long uid = 0; uids >> uid; ++seen)
      if (uid != ::geteuid()) return false;
    return seen == 4;
  }
  return false;
}

}  // namespace

bool descriptorLink(std::string_view name) {
  return descriptorNamed(name) >= 0 || procDescriptor(name);
}

namespace {

enum class Seen { Nothing, File, Stream };

// The process's own descriptors, handed over by whoever started it (a pipe a log shipper made as
// another user included).
bool ownDescriptor(const std::string& name) { return descriptorNamed(name) >= 0; }

// Who a stream may belong to: this user, root (device nodes), or anyone when it is one of the
// process's own descriptors.
bool ownerMayBe(const std::string& name, uid_t uid) {
  return uid == ::geteuid() || uid == 0 || ownDescriptor(name);
}

std::string ownerProblem(const std::string& name, uid_t uid) {
  // The overflow uid: under systemd's PrivateUsers= every owner but root and the service's user
  // shows as it.
  return name + " belongs to another user (uid " + std::to_string(uid) +
         (uid == 65534 ? ", or one this user namespace does not map" : "") +
         "), who could read what is written to it";
}

// What `path` is, judged as appendable() says; openForAppend opens by what was seen here, so a
// link swapped in afterwards is not followed.
Result<Seen> look(const std::filesystem::path& path, AppendTo what) {
  const std::string name = path.string();
  const bool streams = what == AppendTo::FileOrStream;
  struct stat st {};
  // A stream is reached through a link only where no account plants one (descriptorLink):
  // anywhere else a link is refused, streams too (an outside attack: the service's account
  // linked its audit file's name to a device of root's, /dev/watchdog or /dev/kmsg, and root's
  // command wrote there).
  const bool follow = descriptorLink(name);
  if (streams && (follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) == 0 &&
      isStream(st.st_mode)) {
    // A FIFO or a terminal someone else put there would hand them every line; a device node
    // is root's.
    if (!ownerMayBe(name, st.st_uid))
      return makeError(Errc::InvalidArgument, ownerProblem(name, st.st_uid));
    return Seen::Stream;
  }
  if (::lstat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err != ENOENT) return makeError(Errc::Unavailable, name + ": " + std::strerror(err));
    std::error_code ec;
    const auto folder = std::filesystem::absolute(path, ec).parent_path();
    if (!std::filesystem::is_directory(folder, ec))
      return makeError(Errc::InvalidArgument, folder.string() + " is not a folder that exists");
    return Seen::Nothing;
  }
  if (S_ISLNK(st.st_mode) && streams && !procDescriptorProcess(name).empty() &&
      !descriptorLink(name))
    return makeError(Errc::InvalidArgument,
                     name +
                         " is a descriptor of another user's process, which this one does not "
                         "write through (run as that process's user)");
  if (S_ISLNK(st.st_mode))
    return makeError(Errc::InvalidArgument,
                     name + " is not a regular file but a link, which is never followed" +
                         (streams ? " (for standard output, set -)" : ""));
  if (!S_ISREG(st.st_mode))
    return makeError(Errc::InvalidArgument,
                     name + " is not a regular file" + (streams ? " (nor a FIFO)" : ""));
  if (st.st_uid != ::geteuid())
    return makeError(Errc::InvalidArgument, ownerProblem(name, st.st_uid));
  return Seen::File;
}

}  // namespace

Status appendable(const std::filesystem::path& path, AppendTo what) {
  auto seen = look(path, what);
  if (!seen) return tl::unexpected(seen.error());
  return {};
}

Result<UniqueFd> openForAppend(const std::filesystem::path& path, AppendTo what) {
  // Looked at first, as opening some devices acts; the flags and fstat below cover a swap
  // meanwhile: no link followed where a file was seen, no FIFO waited on, no terminal taken.
  auto seen = look(path, what);
  if (!seen) return tl::unexpected(seen.error());
  const bool stream = *seen == Seen::Stream;
  const std::string name = path.string();
  constexpr int kFlags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  const int flags = stream ? (descriptorLink(name) ? kFlags : kFlags | O_NOFOLLOW)
                           : kFlags | O_CREAT | O_NOFOLLOW;
  UniqueFd fd(::open(path.c_str(), flags, 0600));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ELOOP)
      return makeError(Errc::InvalidArgument,
                       name + " is not a regular file but a link, which is never followed");
    return makeError(Errc::Unavailable, "cannot open " + name + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return makeError(Errc::Unavailable, "cannot open " + name + ": " + std::strerror(errno));
  // What was opened is held to what was looked at: a FIFO of another user swapped in behind the
  // link meanwhile is refused as the look would have refused it.
  const bool fits = stream ? isStream(st.st_mode) && ownerMayBe(name, st.st_uid)
                           : S_ISREG(st.st_mode) && st.st_uid == ::geteuid();
  if (!fits) return makeError(Errc::InvalidArgument, name + " changed while it was opened");
  if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 && ::fchmod(fd.get(), 0600) != 0)
    return makeError(Errc::Unavailable,
                     "cannot make " + name + " owner-only: " + std::strerror(errno));
  // Writes then wait for a slow reader rather than fail (nothing appended is ever dropped).
  const int now = ::fcntl(fd.get(), F_GETFL);
  if (now < 0 || ::fcntl(fd.get(), F_SETFL, now & ~O_NONBLOCK) != 0)
    return makeError(Errc::Unavailable, "cannot open " + name + ": " + std::strerror(errno));
  return fd;
}

}  // namespace gatehouse::core
