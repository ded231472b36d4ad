// The SMTP transport against a scripted server on the loopback interface: a message delivered
// as given, 5xx answers are permanent (InvalidArgument), 4xx and lost connections temporary
// (Unavailable), and no cleartext delivery when STARTTLS is required but not offered.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "mail/transport.hpp"

namespace gatehouse::mail {
namespace {

// One SMTP session on 127.0.0.1 (no STARTTLS offered), answering RCPT TO with `rcpt_reply`.
class ScriptedSmtp {
 public:
  explicit ScriptedSmtp(std::string rcpt_reply, std::string greeting = "220 scripted ESMTP")
      : rcpt_reply_(std::move(rcpt_reply)), greeting_(std::move(greeting)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener_, 1), 0);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ScriptedSmtp(const ScriptedSmtp&) = delete;
  ScriptedSmtp& operator=(const ScriptedSmtp&) = delete;
  ~ScriptedSmtp() {
    ::shutdown(listener_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }

  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  // After the session: what came after DATA (dot-stuffed, up to the final ".").
  const std::string& data() {
    if (thread_.joinable()) thread_.join();
    return data_;
  }
  const std::string& commands() {
    if (thread_.joinable()) thread_.join();
    return commands_;
  }

 private:
  void serve() {
    const int c = ::accept(listener_, nullptr, nullptr);
    if (c < 0) return;
    timeval timeout{10, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    say(c, greeting_);
    if (!greeting_.starts_with("220")) {
      ::close(c);
      return;
    }
    std::string line;
    while (readLine(c, line)) {
      commands_ += line + "\n";
      const std::string verb = line.substr(0, 4);
      if (verb == "EHLO" || verb == "HELO") {
        say(c, "250-scripted\r\n250 SIZE 1000000");
      } else if (verb == "MAIL") {
        say(c, "250 2.1.0 ok");
      } else if (verb == "RCPT") {
        say(c, rcpt_reply_);
      } else if (verb == "DATA") {
        say(c, "354 go ahead");
        while (readLine(c, line) && line != ".") data_ += line + "\r\n";
        say(c, "250 2.0.0 queued");
      } else if (verb == "QUIT") {
        say(c, "221 bye");
        break;
      } else {
        say(c, "502 5.5.2 not implemented");
      }
    }
    ::close(c);
  }
  static void say(int c, const std::string& reply) {
    const std::string out = reply + "\r\n";
    EXPECT_EQ(::write(c, out.data(), out.size()), static_cast<ssize_t>(out.size()));
  }
  bool readLine(int c, std::string& line) {
    for (;;) {
      const auto end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return true;
      }
      char chunk[4096];
      const ssize_t n = ::read(c, chunk, sizeof chunk);
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  std::string rcpt_reply_;
  std::string greeting_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string buffer_;
  std::string data_;
  std::string commands_;
};

constexpr const char* kMessage =
    "From: noreply@example.com\r\nTo: ann@example.com\r\nSubject: hi\r\n\r\n"
    "Hello\r\n.a line starting with a dot\r\n.\r\nbye\r\n";

TEST(SmtpTransport, DeliversTheMessageAsGiven) {
  ScriptedSmtp server("250 2.1.5 ok");
  auto t = smtpTransport(server.url(), false, "");
  auto sent = t->send("noreply@example.com", "ann@example.com", kMessage);
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_NE(server.commands().find("MAIL FROM:<noreply@example.com>"), std::string::npos)
      << server.commands();
  EXPECT_NE(server.commands().find("RCPT TO:<ann@example.com>"), std::string::npos);
  // RFC 5321 §4.5.2: lines starting with a dot arrive dot-stuffed; unstuffed, the message.
  std::string unstuffed;
  std::size_t pos = 0;
  const std::string& data = server.data();
  while (pos < data.size()) {
    auto end = data.find("\r\n", pos);
    std::string line = data.substr(pos, end - pos);
    if (line.starts_with(".")) line.erase(0, 1);
    unstuffed += line + "\r\n";
    pos = end + 2;
  }
  EXPECT_EQ(unstuffed, kMessage);
}

TEST(SmtpTransport, ARefusalFor5xxIsPermanent) {
  ScriptedSmtp server("550 5.1.1 no such user");
  auto sent = smtpTransport(server.url(), false, "")
                  ->send("noreply@example.com", "nobody@example.com", kMessage);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, core::Errc::InvalidArgument) << sent.error().message;
  EXPECT_TRUE(server.data().empty());
}

TEST(SmtpTransport, A4xxAnswerIsTemporary) {
  ScriptedSmtp server("452 4.2.2 mailbox full, try later");
  auto sent = smtpTransport(server.url(), false, "")
                  ->send("noreply@example.com", "ann@example.com", kMessage);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, core::Errc::Unavailable) << sent.error().message;
}

TEST(SmtpTransport, AServerThatIsBusyOrAbsentIsTemporary) {
  {
    ScriptedSmtp busy("250 ok", "421 4.3.2 too busy");
    auto sent = smtpTransport(busy.url(), false, "")
                    ->send("noreply@example.com", "ann@example.com", kMessage);
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().code, core::Errc::Unavailable) << sent.error().message;
  }
  // A port nobody listens on (bound, never listening).
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto sent = smtpTransport("smtp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), false, "")
                  ->send("noreply@example.com", "ann@example.com", kMessage);
  ::close(s);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, core::Errc::Unavailable) << sent.error().message;
}

TEST(SmtpTransport, NeverSendsInTheClearWhenStarttlsIsRequired) {
  ScriptedSmtp server("250 2.1.5 ok");  // offers no STARTTLS
  auto sent = smtpTransport(server.url(), true, "")
                  ->send("noreply@example.com", "ann@example.com", kMessage);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, core::Errc::Unavailable) << sent.error().message;
  // The message says what to set (a docs walk: curl's words alone).
  EXPECT_NE(sent.error().message.find("SMTP_STARTTLS=false"), std::string::npos)
      << sent.error().message;
  EXPECT_TRUE(server.data().empty());
  EXPECT_EQ(server.commands().find("MAIL FROM"), std::string::npos) << server.commands();
}

TEST(SmtpTransport, DescribeHidesThePassword) {
  auto t = smtpTransport("smtps://mailer:s3cretpw@mail.example.com:465", true, "");
  EXPECT_EQ(t->describe().find("s3cretpw"), std::string::npos) << t->describe();
  EXPECT_NE(t->describe().find("mail.example.com"), std::string::npos);
}

}  // namespace
}  // namespace gatehouse::mail
