// The composed message read back by a small independent parser: CRLF lines, the headers, the two
// base64 alternatives, RFC 2047 subjects, and refusal of anything that could inject a header.
#include "mail/mime.hpp"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/ascii.hpp"
#include "core/base64url.hpp"
#include "core/utf8.hpp"

namespace gatehouse::mail {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;  // Fri, 15 Jan 2027 08:00:00 UTC

struct Part {
  std::map<std::string, std::string> headers;
  std::string decoded;
};

struct Parsed {
  std::map<std::string, std::string> headers;  // unfolded, keyed by lower-case name
  std::vector<std::string> raw_header_lines;
  std::vector<Part> parts;
};

std::vector<std::string> crlfLines(const std::string& message) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < message.size()) {
    const auto end = message.find("\r\n", pos);
    EXPECT_NE(end, std::string::npos) << "the message does not end with CRLF";
    if (end == std::string::npos) break;
    lines.push_back(message.substr(pos, end - pos));
    pos = end + 2;
  }
  return lines;
}

// Header lines (folded lines joined) until the empty line; returns the index after it.
std::size_t readHeaders(const std::vector<std::string>& lines, std::size_t i,
                        std::map<std::string, std::string>& out, std::vector<std::string>* raw) {
  std::string last;
  for (; i < lines.size() && !lines[i].empty(); ++i) {
    if (raw != nullptr) raw->push_back(lines[i]);
    if (lines[i][0] == ' ' || lines[i][0] == '\t') {
      EXPECT_FALSE(last.empty()) << "a continuation line without a header";
      out[last] += lines[i];  // unfolding keeps the whitespace (RFC 5322 §2.2.3)
      continue;
    }
    const auto colon = lines[i].find(':');
    EXPECT_NE(colon, std::string::npos) << lines[i];
    if (colon == std::string::npos) continue;
    last = core::lowerAscii(lines[i].substr(0, colon));
    EXPECT_EQ(out.count(last), 0U) << "header twice: " << last;
    std::string value = lines[i].substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    out[last] = value;
  }
  return i + 1;
}

std::string boundaryOf(const std::string& content_type) {
  const auto at = content_type.find("boundary=\"");
  if (at == std::string::npos) return {};
  const auto start = at + 10;
  return content_type.substr(start, content_type.find('"', start) - start);
}

Parsed parse(const std::string& message) {
  Parsed p;
  const auto lines = crlfLines(message);
  std::size_t i = readHeaders(lines, 0, p.headers, &p.raw_header_lines);
  const std::string boundary = boundaryOf(p.headers["content-type"]);
  EXPECT_FALSE(boundary.empty()) << p.headers["content-type"];
  if (boundary.empty()) return p;
  // Preamble, then parts each opened by --boundary, closed by --boundary--.
  while (i < lines.size() && lines[i] != "--" + boundary) ++i;
  bool closed = false;
  while (i < lines.size() && lines[i] == "--" + boundary) {
    Part part;
    i = readHeaders(lines, i + 1, part.headers, nullptr);
    std::string base64;
    for (; i < lines.size() && !lines[i].starts_with("--" + boundary); ++i) {
      EXPECT_LE(lines[i].size(), 76U) << "a base64 line longer than RFC 2045 allows";
      base64 += lines[i];
    }
    EXPECT_EQ(core::lowerAscii(part.headers["content-transfer-encoding"]), "base64");
    auto decoded = core::base64Decode(base64);
    EXPECT_TRUE(decoded) << "the part is not base64: " << base64;
    part.decoded = decoded.value_or("");
    p.parts.push_back(std::move(part));
    if (i < lines.size() && lines[i] == "--" + boundary + "--") {
      closed = true;
      ++i;
      break;
    }
  }
  EXPECT_TRUE(closed) << "no closing boundary";
  EXPECT_EQ(i, lines.size()) << "text after the closing boundary";
  return p;
}

// The text of an unfolded header that is plain text or RFC 2047 B-encoded UTF-8 words; each
// word must be at most 75 characters and a whole number of characters (RFC 2047 §2, §5).
std::string decodeWords(const std::string& value) {
  if (value.find("=?") == std::string::npos) return value;
  std::string out;
  std::size_t pos = 0;
  while (pos < value.size()) {
    while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t')) ++pos;
    if (pos == value.size()) break;
    const auto end = value.find("?=", pos + 2);
    EXPECT_NE(end, std::string::npos) << value;
    if (end == std::string::npos) break;
    const std::string word = value.substr(pos, end + 2 - pos);
    EXPECT_LE(word.size(), 75U) << word;
    const std::string prefix = "=?UTF-8?B?";
    EXPECT_TRUE(core::lowerAscii(word).starts_with(core::lowerAscii(prefix))) << word;
    auto bytes = core::base64Decode(word.substr(prefix.size(), word.size() - prefix.size() - 2));
    EXPECT_TRUE(bytes) << word;
    EXPECT_TRUE(bytes && core::isValidUtf8(*bytes)) << "a word splits a character: " << word;
    out += bytes.value_or("");
    pos = end + 2;
  }
  return out;
}

Mail sample() {
  return {"Gatehouse <noreply@example.com>", "Ann Example <ann@example.com>",
          "Reset your Gatehouse password",
          "Hello ann,\n\nopen https://auth.example.com/ui/reset-password#token=abc\n",
          "<p>Hello ann, <a href=\"https://auth.example.com/\">open</a></p>\n"};
}

TEST(Compose, WritesCrlfLinesAndTheRequiredHeaders) {
  auto message = compose(sample(), kNow);
  ASSERT_TRUE(message) << message.error().message;
  // Every line ends in CRLF: no bare LF or CR anywhere.
  for (std::size_t i = 0; i < message->size(); ++i) {
    if ((*message)[i] == '\n') {
      EXPECT_TRUE(i > 0 && (*message)[i - 1] == '\r') << i;
    }
    if ((*message)[i] == '\r') {
      EXPECT_TRUE(i + 1 < message->size() && (*message)[i + 1] == '\n') << i;
    }
  }
  const Parsed p = parse(*message);
  EXPECT_NE(p.headers.at("from").find("<noreply@example.com>"), std::string::npos);
  EXPECT_NE(p.headers.at("from").find("Gatehouse"), std::string::npos);
  EXPECT_NE(p.headers.at("to").find("<ann@example.com>"), std::string::npos);
  EXPECT_EQ(p.headers.at("subject"), "Reset your Gatehouse password");
  EXPECT_EQ(p.headers.at("date"), "Fri, 15 Jan 2027 08:00:00 +0000");
  EXPECT_EQ(p.headers.at("mime-version"), "1.0");
  const std::string& id = p.headers.at("message-id");
  EXPECT_TRUE(id.starts_with("<") && id.ends_with("@example.com>")) << id;
  EXPECT_GT(id.size(), std::string("<@example.com>").size() + 8);
  EXPECT_TRUE(p.headers.at("content-type").starts_with("multipart/alternative;"));
  for (const auto& line : p.raw_header_lines) EXPECT_LE(line.size(), 998U);
}

TEST(Compose, EachMessageHasItsOwnMessageId) {
  const Parsed a = parse(compose(sample(), kNow).value());
  const Parsed b = parse(compose(sample(), kNow).value());
  EXPECT_NE(a.headers.at("message-id"), b.headers.at("message-id"));
}

TEST(Compose, TheTextAndHtmlAlternativesDecodeBackToTheInputs) {
  Mail m = sample();
  // Long enough for several base64 lines, non-ASCII, with lines that look like MIME syntax.
  m.text =
      "Gr\xC3\xBC\xC3\x9F"
      "e \xE2\x82\xAC\n--boundary\nFrom the team\n.\n" +
      std::string(300, 'x') + "\n";
  m.html = "<p>caf\xC3\xA9 &amp; <b>" + std::string(200, 'y') + "</b></p>\r\n";
  const Parsed p = parse(compose(m, kNow).value());
  ASSERT_EQ(p.parts.size(), 2U);
  EXPECT_TRUE(p.parts[0].headers.at("content-type").starts_with("text/plain"));
  EXPECT_NE(core::lowerAscii(p.parts[0].headers.at("content-type")).find("charset=utf-8"),
            std::string::npos);
  EXPECT_EQ(p.parts[0].decoded, m.text);
  EXPECT_TRUE(p.parts[1].headers.at("content-type").starts_with("text/html"));
  EXPECT_NE(core::lowerAscii(p.parts[1].headers.at("content-type")).find("charset=utf-8"),
            std::string::npos);
  EXPECT_EQ(p.parts[1].decoded, m.html);
}

TEST(Compose, ANonAsciiSubjectBecomesEncodedWordsThatDecodeBack) {
  Mail m = sample();
  m.subject =
      "Passwort zur\xC3\xBC"
      "cksetzen f\xC3\xBCr Gatehouse \xE2\x80\x94 " +
      std::string("\xC3\xA9") + "t\xC3\xA9";
  auto message = compose(m, kNow);
  ASSERT_TRUE(message);
  const Parsed p = parse(*message);
  EXPECT_TRUE(p.headers.at("subject").starts_with("=?UTF-8?B?")) << p.headers.at("subject");
  EXPECT_EQ(decodeWords(p.headers.at("subject")), m.subject);
  // The header block is ASCII.
  const std::string head = message->substr(0, message->find("\r\n\r\n"));
  for (const unsigned char c : head) EXPECT_LT(c, 0x80);
}

TEST(Compose, ALongNonAsciiSubjectIsSplitBetweenCharacters) {
  Mail m = sample();
  m.subject.clear();
  for (int i = 0; i < 60; ++i) m.subject += "\xC3\xA9";  // 2-byte characters: odd splits would cut
  for (int i = 0; i < 30; ++i) m.subject += "\xF0\x9F\x94\x91";  // 4-byte characters
  const Parsed p = parse(compose(m, kNow).value());
  EXPECT_EQ(decodeWords(p.headers.at("subject")), m.subject);
}

TEST(Compose, ASubjectThatIsNotUtf8GivesNoOverlongWord) {
  // 45 or more bytes in a row that are UTF-8 continuation bytes (e.g. a BRAND_NAME or template
  // file in another encoding): refused, or still encoded within RFC 2047's 75 characters.
  Mail m = sample();
  m.subject = std::string(100, '\x80');
  auto message = compose(m, kNow);
  if (!message) {
    EXPECT_EQ(message.error().code, core::Errc::InvalidArgument);
    return;
  }
  const Parsed p = parse(*message);
  const std::string& subject = p.headers.at("subject");
  for (std::size_t at = subject.find("=?"); at != std::string::npos;
       at = subject.find("=?", at + 2)) {
    const auto end = subject.find("?=", at + 10);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end + 2 - at, 75U) << subject.substr(at, 80);
    at = end;
  }
}

TEST(Compose, ALongAsciiSubjectStaysWithinTheLineLimit) {
  // RFC 5322 §2.1.1: no line over 998 characters; a long subject (a template override may
  // hold one) is folded, and unfolds back to itself.
  Mail m = sample();
  m.subject.clear();
  for (int i = 0; i < 150; ++i) m.subject += "word" + std::to_string(i) + " ";
  m.subject += "end";
  ASSERT_GT(m.subject.size(), 998U);
  auto message = compose(m, kNow);
  ASSERT_TRUE(message);
  const Parsed p = parse(*message);
  for (const auto& line : p.raw_header_lines) EXPECT_LE(line.size(), 998U) << line.substr(0, 40);
  EXPECT_EQ(decodeWords(p.headers.at("subject")), m.subject);
}

TEST(Compose, RefusesLineBreaksInTheSubject) {
  for (const char* subject : {"Hi\r\nBcc: evil@example.com", "Hi\nBcc: evil@example.com",
                              "Hi\rBcc: evil@example.com", "trailing\r\n"}) {
    Mail m = sample();
    m.subject = subject;
    auto message = compose(m, kNow);
    ASSERT_FALSE(message) << subject;
    EXPECT_EQ(message.error().code, core::Errc::InvalidArgument);
  }
}

TEST(Compose, RefusesAnAddressThatIsNotExactlyOne) {
  for (const char* bad :
       {"ann@example.com\r\nBcc: evil@example.com", "Ann <ann@example.com>\nBcc: evil@example.com",
        "ann@example.com, evil@example.com", "Ann <ann@example.com> evil@example.com",
        "not an address", "", "a@b@example.com"}) {
    Mail to = sample();
    to.to = bad;
    auto message = compose(to, kNow);
    ASSERT_FALSE(message) << "to: " << bad;
    EXPECT_EQ(message.error().code, core::Errc::InvalidArgument);
    Mail from = sample();
    from.from = bad;
    message = compose(from, kNow);
    ASSERT_FALSE(message) << "from: " << bad;
    EXPECT_EQ(message.error().code, core::Errc::InvalidArgument);
  }
}

TEST(Compose, ADisplayNameCannotInjectAHeader) {
  Mail m = sample();
  m.to = "Ann\r\nBcc: evil@example.com <ann@example.com>";
  EXPECT_FALSE(compose(m, kNow));
  // A quote in the name could end the quoted string early.
  m.to = "Ann\" <evil@example.com>, \"x <ann@example.com>";
  auto message = compose(m, kNow);
  if (message) {
    const Parsed p = parse(*message);
    EXPECT_EQ(addressOf(p.headers.at("to")), "ann@example.com") << p.headers.at("to");
  }
}

TEST(AddressOf, FindsTheAddressInANameAddrOrABareAddress) {
  EXPECT_EQ(addressOf("Name <a@b.c>"), "a@b.c");
  EXPECT_EQ(addressOf("\"Gate House\" <noreply@example.com>"), "noreply@example.com");
  EXPECT_EQ(addressOf("<a@b.c>"), "a@b.c");
  EXPECT_EQ(addressOf("a@b.c"), "a@b.c");
  EXPECT_EQ(addressOf("first.last+tag@sub.example.com"), "first.last+tag@sub.example.com");
}

TEST(AddressOf, RefusesAnythingButOnePlausibleAddress) {
  for (const char* bad :
       {"a@b@c.d", "@b.c", "a@", "ab.c", "", "a b@c.d", "Name <a b@c.d>", "<a@b.c> trailing",
        "Name <a@b.c", "Name <>", "a@b.c\r\n", "a@b.c\nBcc: x@y.z", "Name <a@b.c>\r\nBcc: x@y.z",
        "a@b.c\r", "a@b.c, d@e.f", "a@b.c;d@e.f", "a\t@b.c"}) {
    EXPECT_EQ(addressOf(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace gatehouse::mail
