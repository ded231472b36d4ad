#include "core/files.hpp"

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

namespace fs = std::filesystem;

class FilesTest : public ::testing::Test {
 protected:
  FilesTest()
      : dir_(fs::temp_directory_path() /
             ("gatehouse-files-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~FilesTest() override { fs::remove_all(dir_); }

  static std::string contents(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  fs::path dir_;
};

TEST_F(FilesTest, ReadsARegularFileOrALinkToOneWithinItsLimit) {
  std::ofstream(dir_ / "key") << "0123456789";
  EXPECT_EQ(readSmallFile(dir_ / "key", 10).value(), "0123456789");
  fs::create_symlink(dir_ / "key", dir_ / "mounted");  // as mounted secrets are
  EXPECT_EQ(readSmallFile(dir_ / "mounted", 10).value(), "0123456789");
  const auto large = readSmallFile(dir_ / "key", 9);
  ASSERT_FALSE(large);
  EXPECT_EQ(large.error().code, Errc::InvalidArgument);
  EXPECT_EQ(large.error().message,
            "cannot read " + (dir_ / "key").string() + ": larger than 9 bytes");
}

// Whatever is not a regular file is refused at once: never read as empty (a folder), never
// without end (/dev/zero), never waited on (a FIFO with no writer).
TEST_F(FilesTest, AnythingButARegularFileIsRefusedAtOnce) {
  fs::create_directory(dir_ / "folder");
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", dir_ / "zero");
  for (const char* name : {"folder", "fifo", "zero"}) {
    const auto read = readSmallFile(dir_ / name, 1024);
    ASSERT_FALSE(read) << name;
    EXPECT_EQ(read.error().code, Errc::InvalidArgument) << name;
    EXPECT_EQ(read.error().message,
              "cannot read " + (dir_ / name).string() + ": not a regular file");
  }
  fs::create_symlink(dir_ / "nothing", dir_ / "dangling");
  const auto dangling = readSmallFile(dir_ / "dangling", 1024);
  ASSERT_FALSE(dangling);
  EXPECT_EQ(dangling.error().code, Errc::NotFound);
}

// A link planted where the file goes, or where an old version put its temporary file, is never
// written through: the file it points to is untouched, the new file is Gatehouse's own, 0600.
TEST_F(FilesTest, AWriteNeverFollowsAPlantedLink) {
  std::ofstream(dir_ / "victim") << "someone else's";
  ::chmod((dir_ / "victim").c_str(), 0644);
  fs::create_symlink(dir_ / "victim", dir_ / "key.tmp");
  fs::create_symlink(dir_ / "victim", dir_ / "key");
  // Without replace, nothing at the name is replaced, a link included.
  const auto refused = writeFileAtomically(dir_ / "key", "secret", false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::AlreadyExists);
  EXPECT_TRUE(fs::is_symlink(dir_ / "key"));
  // With replace, the link itself is replaced.
  ASSERT_TRUE(writeFileAtomically(dir_ / "key", "secret", true));
  EXPECT_EQ(contents(dir_ / "victim"), "someone else's");
  EXPECT_FALSE(fs::is_symlink(dir_ / "key"));
  EXPECT_EQ(contents(dir_ / "key"), "secret");
  struct stat st {};
  ASSERT_EQ(::lstat((dir_ / "key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  // No temporary file is left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 3U);  // victim, key.tmp (the planted link), key
}

TEST_F(FilesTest, WithoutReplaceANewFileIsWrittenOnce) {
  ASSERT_TRUE(writeFileAtomically(dir_ / "node_id", "first", false));
  const auto second = writeFileAtomically(dir_ / "node_id", "second", false);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::AlreadyExists);
  EXPECT_EQ(contents(dir_ / "node_id"), "first");
  // A link to nothing is something: not replaced either.
  fs::create_symlink(dir_ / "elsewhere", dir_ / "dangling");
  EXPECT_FALSE(writeFileAtomically(dir_ / "dangling", "x", false));
  EXPECT_FALSE(fs::exists(dir_ / "elsewhere"));
}

// A process that died between making its temporary file and moving it in place left a copy of
// the secret beside it: the next write of that file removes such copies once they are ten
// minutes old, and nothing else: a live writer's, another file's, an operator's `.kek.backup`,
// a link, a folder, a file of another owner.
TEST_F(FilesTest, AWriteRemovesTheTemporariesOfDeadWritesOnly) {
  // Ages `p` itself, a link included (lutimes: the link, not what it points to).
  const auto age = [](const fs::path& p, std::chrono::minutes by) {
    const auto then = std::chrono::system_clock::now() - by;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(then.time_since_epoch());
    const timeval times[2] = {{static_cast<time_t>(secs.count()), 0},
                              {static_cast<time_t>(secs.count()), 0}};
    ASSERT_EQ(::lutimes(p.c_str(), times), 0) << p;
  };
  const auto make = [&](const std::string& name, std::chrono::minutes old) {
    std::ofstream(dir_ / name) << "secret";
    age(dir_ / name, old);
  };
  const std::chrono::minutes hour(60);
  make(".kek.gatehouse-tmp.Ab12Cd", std::chrono::minutes(11));  // a dead write's: goes
  make(".kek.gatehouse-tmp.Zz99yY", std::chrono::minutes(2));   // perhaps still running: stays
  make(".other.gatehouse-tmp.Ab12Cd", hour);                    // another file's
  make(".kek.backup", hour);                                    // the operator's
  make(".kek.Ab12Cd", hour);                                    // not marked as ours
  make(".kek.gatehouse-tmp.Ab-2Cd", hour);                      // not mkstemp's alphabet
  make("target", std::chrono::minutes(0));
  fs::create_symlink(dir_ / "target", dir_ / ".kek.gatehouse-tmp.LinkXX");
  age(dir_ / ".kek.gatehouse-tmp.LinkXX", hour);
  fs::create_directory(dir_ / ".kek.gatehouse-tmp.Folder");
  fs::create_directory(dir_ / ".kek.gatehouse-tmp.Folder" / "inside");
  age(dir_ / ".kek.gatehouse-tmp.Folder", hour);
  std::vector<std::string> kept = {".kek.gatehouse-tmp.Zz99yY",
                                   ".other.gatehouse-tmp.Ab12Cd",
                                   ".kek.backup",
                                   ".kek.Ab12Cd",
                                   ".kek.gatehouse-tmp.Ab-2Cd",
                                   ".kek.gatehouse-tmp.LinkXX",
                                   ".kek.gatehouse-tmp.Folder",
                                   "target"};
  // Another owner's (only root can make one here).
  if (::geteuid() == 0) {
    make(".kek.gatehouse-tmp.Nobody", hour);
    ASSERT_EQ(::chown((dir_ / ".kek.gatehouse-tmp.Nobody").c_str(), 4242, 4242), 0);
    kept.push_back(".kek.gatehouse-tmp.Nobody");
  }

  ASSERT_TRUE(writeFileAtomically(dir_ / "kek", "new", true));
  EXPECT_EQ(fs::symlink_status(dir_ / ".kek.gatehouse-tmp.Ab12Cd").type(),
            fs::file_type::not_found);
  for (const auto& name : kept)
    EXPECT_NE(fs::symlink_status(dir_ / name).type(), fs::file_type::not_found) << name;
  EXPECT_EQ(contents(dir_ / "target"), "secret");
  EXPECT_EQ(contents(dir_ / "kek"), "new");
  // The write left no temporary of its own.
  std::size_t temporaries = 0;
  for (const auto& e : fs::directory_iterator(dir_))
    temporaries += e.path().filename().string().starts_with(".kek.gatehouse-tmp.") ? 1 : 0;
  // Zz99yY, Ab-2Cd, LinkXX, Folder, and Nobody when made.
  EXPECT_EQ(temporaries, ::geteuid() == 0 ? 5U : 4U);
}

// An appended file (the audit log, the mail file) is made owner-only whatever the umask, and one of
// ours left readable by others becomes owner-only; what is appended lands after what was there.
TEST_F(FilesTest, AnAppendedFileIsOwnerOnly) {
  const mode_t old = ::umask(0);
  auto made = openForAppend(dir_ / "made", AppendTo::File);
  ::umask(old);
  ASSERT_TRUE(made) << made.error().message;
  struct stat st {};
  ASSERT_EQ(::fstat(made->get(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::ofstream(dir_ / "old") << "first\n";
  ::chmod((dir_ / "old").c_str(), 0644);
  auto old_file = openForAppend(dir_ / "old", AppendTo::FileOrStream);
  ASSERT_TRUE(old_file) << old_file.error().message;
  ASSERT_EQ(::write(old_file->get(), "second\n", 7), 7);
  ASSERT_TRUE(old_file->close());
  EXPECT_EQ(contents(dir_ / "old"), "first\nsecond\n");
  ASSERT_EQ(::stat((dir_ / "old").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  // Blocking (a slow reader is waited for, nothing dropped) and never inherited by a child.
  EXPECT_EQ(::fcntl(made->get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(made->get(), F_GETFD) & FD_CLOEXEC, 0);
}

// A link planted where the file goes is never followed, to a file or to nothing; the file it
// points to is untouched and nothing is made where a dangling one points.
TEST_F(FilesTest, AnAppendedFileIsNeverReachedThroughALink) {
  std::ofstream(dir_ / "victim") << "someone else's";
  fs::create_symlink(dir_ / "victim", dir_ / "to-file");
  fs::create_symlink(dir_ / "nothing", dir_ / "to-nothing");
  for (const char* name : {"to-file", "to-nothing"}) {
    for (const AppendTo what : {AppendTo::File, AppendTo::FileOrStream}) {
      const auto opened = openForAppend(dir_ / name, what);
      ASSERT_FALSE(opened) << name;
      EXPECT_EQ(opened.error().code, Errc::InvalidArgument) << name;
      EXPECT_EQ(opened.error().message,
                (dir_ / name).string() +
                    " is not a regular file but a link, which is never followed" +
                    (what == AppendTo::FileOrStream ? " (for standard output, set -)" : ""));
    }
  }
  EXPECT_EQ(contents(dir_ / "victim"), "someone else's");
  EXPECT_FALSE(fs::exists(dir_ / "nothing"));
}

// A file another user made there (in a shared folder, before the first start) could be read by
// them: refused, by the look before opening and by the open.
TEST_F(FilesTest, AnAppendedFileOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  std::ofstream(dir_ / "planted") << "";
  ::chmod((dir_ / "planted").c_str(), 0666);
  ASSERT_EQ(::chown((dir_ / "planted").c_str(), 4242, 4242), 0);
  const auto looked = appendable(dir_ / "planted", AppendTo::File);
  ASSERT_FALSE(looked);
  EXPECT_EQ(looked.error().code, Errc::InvalidArgument);
  EXPECT_EQ(looked.error().message, (dir_ / "planted").string() +
                                        " belongs to another user (uid 4242), who could read "
                                        "what is written to it");
  EXPECT_FALSE(openForAppend(dir_ / "planted", AppendTo::FileOrStream));
  // The overflow uid is named as what it may be: an owner PrivateUsers= does not map.
  ASSERT_EQ(::chown((dir_ / "planted").c_str(), 65534, 65534), 0);
  EXPECT_EQ(appendable(dir_ / "planted", AppendTo::File).error().message,
            (dir_ / "planted").string() +
                " belongs to another user (uid 65534, or one this user namespace does not map), "
                "who could read what is written to it");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "planted").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666);  // not touched
  // A FIFO they planted (their reader gets every line), directly or behind a link: refused as
  // well, while a device node (root's) and the process's own descriptors are taken.
  ASSERT_EQ(::mkfifo((dir_ / "their-fifo").c_str(), 0666), 0);
  ASSERT_EQ(::chown((dir_ / "their-fifo").c_str(), 4242, 4242), 0);
  const int reader = ::open((dir_ / "their-fifo").c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  fs::create_symlink(dir_ / "their-fifo", dir_ / "to-their-fifo");
  const auto fifo = openForAppend(dir_ / "their-fifo", AppendTo::FileOrStream);
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().message, (dir_ / "their-fifo").string() +
                                      " belongs to another user (uid 4242), who could read "
                                      "what is written to it");
  EXPECT_FALSE(openForAppend(dir_ / "to-their-fifo", AppendTo::FileOrStream));
  ::close(reader);
  EXPECT_TRUE(openForAppend("/dev/null", AppendTo::FileOrStream));
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ASSERT_EQ(::fchown(pipe_fds[1], 4242, 4242), 0);  // as if a log shipper of its own made it
  const auto own =
      openForAppend("/proc/self/fd/" + std::to_string(pipe_fds[1]), AppendTo::FileOrStream);
  EXPECT_TRUE(own) << own.error().message;
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

// Streams only where asked for; a FIFO nobody reads is refused at once rather than waited on,
// one with a reader gets what is written.
TEST_F(FilesTest, StreamsAreAppendedToOnlyWhereAskedFor) {
  EXPECT_FALSE(appendable("/dev/null", AppendTo::File));
  EXPECT_TRUE(openForAppend("/dev/null", AppendTo::FileOrStream));
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  EXPECT_FALSE(openForAppend(dir_ / "fifo", AppendTo::File));
  const auto unread = openForAppend(dir_ / "fifo", AppendTo::FileOrStream);
  ASSERT_FALSE(unread);
  EXPECT_EQ(unread.error().code, Errc::Unavailable);
  const int reader = ::open((dir_ / "fifo").c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  auto writer = openForAppend(dir_ / "fifo", AppendTo::FileOrStream);
  ASSERT_TRUE(writer) << writer.error().message;
  ASSERT_EQ(::write(writer->get(), "event\n", 6), 6);
  char got[16] = {};
  EXPECT_EQ(::read(reader, got, sizeof got), 6);
  EXPECT_STREQ(got, "event\n");
  ::close(reader);
  fs::create_directory(dir_ / "folder");
  EXPECT_FALSE(openForAppend(dir_ / "folder", AppendTo::FileOrStream));
}

// Found by an outside attack: the service's account, owning the folder of AUDIT_LOG_FILE, linked
// the name to a device of root's (/dev/watchdog, /dev/kmsg, a terminal) and root's commands
// wrote their audit lines there. A stream is reached through a link only where no account plants
// one: the process's own descriptors (/dev/stdout is a link) and /proc's links.
TEST_F(FilesTest, AStreamIsNeverReachedThroughAPlantedLink) {
  fs::create_symlink("/dev/null", dir_ / "null");
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  const int reader = ::open((dir_ / "fifo").c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  fs::create_symlink(dir_ / "fifo", dir_ / "to-fifo");
  for (const char* name : {"null", "to-fifo"}) {
    const auto looked = appendable(dir_ / name, AppendTo::FileOrStream);
    ASSERT_FALSE(looked) << name;
    EXPECT_EQ(looked.error().message,
              (dir_ / name).string() +
                  " is not a regular file but a link, which is never followed (for standard "
                  "output, set -)");
    EXPECT_FALSE(openForAppend(dir_ / name, AppendTo::FileOrStream)) << name;
  }
  EXPECT_TRUE(openForAppend(dir_ / "fifo", AppendTo::FileOrStream));  // named itself
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const std::string fd = std::to_string(pipe_fds[1]);
  EXPECT_TRUE(openForAppend("/dev/fd/" + fd, AppendTo::FileOrStream));
  EXPECT_TRUE(
      openForAppend("/proc/" + std::to_string(::getpid()) + "/fd/" + fd, AppendTo::FileOrStream));
  // Not any path under /proc: /proc/self/cwd and /proc/self/root are links to folders, and what
  // lies below them may be a link another account planted.
  const std::string planted = (dir_ / "to-fifo").string();
  EXPECT_FALSE(openForAppend("/proc/self/fd/" + fd + "/x", AppendTo::FileOrStream));
  // This process's own link to a regular file is no stream, and no other user's either: said so.
  std::ofstream(dir_ / "plain") << "";
  const int plain = ::open((dir_ / "plain").c_str(), O_WRONLY);
  ASSERT_GE(plain, 0);
  const std::string own = "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(plain);
  const auto looked = appendable(own, AppendTo::FileOrStream);
  ASSERT_FALSE(looked);
  EXPECT_EQ(looked.error().message,
            own +
                " is not a regular file but a link, which is never followed (for standard "
                "output, set -)");
  ::close(plain);
  EXPECT_FALSE(openForAppend("/proc/" + std::to_string(::getpid()) + "/fd/" + fd + "/x",
                             AppendTo::FileOrStream));
  EXPECT_FALSE(openForAppend("/proc/self/root" + planted, AppendTo::FileOrStream));
  EXPECT_FALSE(openForAppend("/proc/" + std::to_string(::getpid()) + "/root" + planted,
                             AppendTo::FileOrStream));
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  ::close(reader);
}

// A second review: /proc/<pid>/fd/N of another user's process is reopened with this process's
// rights, so root would open for writing a device the service's process held read-only (or as
// O_PATH, which anyone may open on /dev/watchdog). Only this user's processes lend their links.
TEST_F(FilesTest, AnotherUsersProcessLendsNoDescriptor) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a child as another user";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(1);
    ::prctl(PR_SET_DUMPABLE, 0);  // /proc/<pid> then shows root as its owner: not what counts
    ::pause();
    ::_exit(0);
  }
  const std::string link = "/proc/" + std::to_string(child) + "/fd/" + std::to_string(fds[1]);
  const auto switched = [&] {
    std::ifstream status("/proc/" + std::to_string(child) + "/status");
    std::string line;
    while (std::getline(status, line))
      if (line.starts_with("Uid:")) return line.find("65534") != std::string::npos;
    return false;
  };
  for (int i = 0; i < 200 && !switched(); ++i) ::usleep(10'000);
  ASSERT_TRUE(switched());
  EXPECT_FALSE(descriptorLink(link));
  const auto opened = openForAppend(link, AppendTo::FileOrStream);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().message, link +
                                        " is a descriptor of another user's process, which "
                                        "this one does not write through (run as that "
                                        "process's user)");
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  // A process of this user's (this one, by its number) lends them.
  EXPECT_TRUE(
      descriptorLink("/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fds[1])));
  EXPECT_EQ(descriptorNamed("/proc/thread-self/fd/2"), 2);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(FilesTest, AnAppendedFileInAMissingFolderNamesTheFolder) {
  const auto looked = appendable(dir_ / "missing" / "audit.jsonl", AppendTo::FileOrStream);
  ASSERT_FALSE(looked);
  EXPECT_EQ(looked.error().code, Errc::InvalidArgument);
  EXPECT_EQ(looked.error().message, (dir_ / "missing").string() + " is not a folder that exists");
}

TEST(DescriptorNamed, SpellsTheProcesssOwnDescriptorsAndNothingElse) {
  EXPECT_EQ(descriptorNamed("/dev/stdout"), 1);
  EXPECT_EQ(descriptorNamed("/dev/stderr"), 2);
  EXPECT_EQ(descriptorNamed("/dev/fd/1"), 1);
  EXPECT_EQ(descriptorNamed("/proc/self/fd/2"), 2);
  EXPECT_EQ(descriptorNamed("/dev/fd/17"), 17);
  for (const char* other : {"-", "", "/dev/fd/", "/dev/fd/1x", "/dev/fd/-1", "/proc/self/fd/",
                            "/dev/fd/99999999999999", "/var/log/audit.jsonl", "/dev/stdin2"})
    EXPECT_EQ(descriptorNamed(other), -1) << other;
}

TEST(UniqueFdTest, ClosesOnceWhicheverOwnerEnds) {
  int raw = -1;
  {
    UniqueFd first(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    raw = first.get();
    ASSERT_GE(raw, 0);
    UniqueFd second(std::move(first));
    EXPECT_EQ(first.get(), -1);  // NOLINT(bugprone-use-after-move): moved from is empty
    EXPECT_EQ(second.get(), raw);
    EXPECT_NE(::fcntl(raw, F_GETFD), -1);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);  // closed when the last owner ended
  UniqueFd kept(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int released = kept.release();
  EXPECT_EQ(kept.get(), -1);
  EXPECT_NE(::fcntl(released, F_GETFD), -1);
  ::close(released);
}

}  // namespace
}  // namespace gatehouse::core
