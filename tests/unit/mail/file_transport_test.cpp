// The development transport: an mbox file (mboxrd quoting), readable by its owner only.
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "mail/transport.hpp"

namespace gatehouse::mail {
namespace {

class FileTransport : public ::testing::Test {
 protected:
  FileTransport() {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~FileTransport() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string contents() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / ("gatehouse-mbox-" + std::to_string(::getpid()));
  std::filesystem::path path_ = dir_ / "mail.mbox";
};

constexpr const char* kFirst =
    "From: Gatehouse <noreply@example.com>\r\nTo: ann@example.com\r\nSubject: one\r\n\r\n"
    "Hello,\r\nFrom here on, things change.\r\n>From an earlier quote\r\nbye\r\n";
constexpr const char* kSecond =
    "From: Gatehouse <noreply@example.com>\r\nTo: bob@example.com\r\nSubject: two\r\n\r\n"
    "Second body\r\n";

TEST_F(FileTransport, AppendsMessagesSeparatedByFromLines) {
  auto t = fileTransport(path_);
  ASSERT_TRUE(t->send("noreply@example.com", "ann@example.com", kFirst));
  ASSERT_TRUE(t->send("noreply@example.com", "bob@example.com", kSecond));
  const auto all = lines(contents());
  ASSERT_FALSE(all.empty());
  std::vector<std::size_t> separators;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].starts_with("From ")) separators.push_back(i);
  }
  ASSERT_EQ(separators.size(), 2U) << contents();
  EXPECT_EQ(separators[0], 0U);
  // A message's separator follows an empty line (mbox: the blank line ends the message before).
  EXPECT_EQ(all[separators[1] - 1], "") << contents();
  // Each message's own lines follow its separator, in order.
  EXPECT_EQ(all[1].substr(0, all[1].find_last_not_of('\r') + 1),
            "From: Gatehouse <noreply@example.com>");
  EXPECT_NE(contents().find("Subject: one"), std::string::npos);
  EXPECT_LT(contents().find("Subject: one"), contents().find("Subject: two"));
  EXPECT_LT(contents().find("Subject: two"), contents().find("Second body"));
}

TEST_F(FileTransport, QuotesBodyLinesThatLookLikeSeparators) {
  auto t = fileTransport(path_);
  ASSERT_TRUE(t->send("noreply@example.com", "ann@example.com", kFirst));
  const std::string mbox = contents();
  // mboxrd: a line matching ^>*From  gains one '>'.
  EXPECT_NE(mbox.find("\n>From here on, things change."), std::string::npos) << mbox;
  EXPECT_EQ(mbox.find("\nFrom here on"), std::string::npos) << mbox;
  EXPECT_NE(mbox.find("\n>>From an earlier quote"), std::string::npos) << mbox;
  // Header "From:" lines are not separators and stay as they are.
  EXPECT_NE(mbox.find("\nFrom: Gatehouse <noreply@example.com>"), std::string::npos) << mbox;
  // Unquoting gives the message back (line ends aside).
  std::string restored;
  const auto all = lines(mbox);
  for (std::size_t i = 1; i < all.size(); ++i) {
    std::string line = all[i];
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of('>');
    if (first != std::string::npos && first > 0 && line.substr(first).starts_with("From "))
      line.erase(0, 1);
    restored += line + "\r\n";
  }
  EXPECT_EQ(restored, std::string(kFirst) + "\r\n");
}

TEST_F(FileTransport, TheFileIsReadableByItsOwnerOnly) {
  const mode_t old = ::umask(0);  // the mode must not depend on the caller's umask
  auto t = fileTransport(path_);
  const auto sent = t->send("noreply@example.com", "ann@example.com", kSecond);
  ::umask(old);
  ASSERT_TRUE(sent);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

// Swapped for a FIFO or a device after the start checked it: refused at once, never waited on
// (with no reader, a blocking open of a FIFO would hang the mail thread for good).
TEST_F(FileTransport, AnythingButARegularFileIsRefusedWithoutWaiting) {
  ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);
  auto t = fileTransport(path_);
  auto sent = t->send("noreply@example.com", "ann@example.com", kSecond);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, core::Errc::Unavailable);
  // With a reader the open succeeds; the check after it still refuses, and the reader sees nothing.
  const int reader = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  sent = t->send("noreply@example.com", "ann@example.com", kSecond);
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().message.find("not a regular file"), std::string::npos)
      << sent.error().message;
  char byte = 0;
  EXPECT_LE(::read(reader, &byte, 1), 0);
  ::close(reader);
  auto device = fileTransport("/dev/null")->send("noreply@example.com", "ann@example.com", kSecond);
  EXPECT_FALSE(device);
}

TEST_F(FileTransport, AnUnwritablePathIsUnavailable) {
  auto t = fileTransport(dir_ / "missing-folder" / "mail.mbox");
  auto sent = t->send("noreply@example.com", "ann@example.com", kSecond);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, core::Errc::Unavailable);
  EXPECT_NE(t->describe().find("mail.mbox"), std::string::npos);
}

}  // namespace
}  // namespace gatehouse::mail
