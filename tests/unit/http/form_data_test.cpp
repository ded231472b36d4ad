// multipart/form-data read as a form's text fields (RFC 7578), on bodies as Chromium's FormData,
// curl -F and Python's requests send them, and on the malformed ones each rule refuses.
#include "http/form_data.hpp"

#include <gtest/gtest.h>

namespace gatehouse::http {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

const std::string kType = "multipart/form-data; boundary=----WebKitFormBoundaryX3bY0pBZ9ZkvNQ7a";
const std::string kDash = "------WebKitFormBoundaryX3bY0pBZ9ZkvNQ7a";

std::string part(std::string_view name, std::string_view value,
                 std::string_view extra_headers = "") {
  return kDash + "\r\nContent-Disposition: form-data; name=\"" + std::string(name) + "\"\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(value) + "\r\n";
}

TEST(MultipartFormData, ReadsTheFieldsABrowserSends) {
  // Chromium's FormData of a login form, byte for byte but the password.
  const std::string body = part("username", "alice@example.com") + part("password", "Pass w0rd!") +
                           part("grant_type", "password") + kDash + "--\r\n";
  EXPECT_EQ(parseMultipartFormData(kType, body), (Fields{{"username", "alice@example.com"},
                                                         {"password", "Pass w0rd!"},
                                                         {"grant_type", "password"}}));
}

TEST(MultipartFormData, KeepsValuesAsSentRepeatsOrderAndEmptyOnes) {
  // A value may hold CRLF, "--", quotes and any byte but the delimiter; nothing is decoded.
  const std::string body = part("a", "line 1\r\n--line 2 \"%41\"") + part("a", "") +
                           part("b", std::string("\x00\xff", 2)) + kDash + "--";
  EXPECT_EQ(
      parseMultipartFormData(kType, body),
      (Fields{{"a", "line 1\r\n--line 2 \"%41\""}, {"a", ""}, {"b", std::string("\x00\xff", 2)}}));
}

TEST(MultipartFormData, TakesQuotedBoundariesPreamblesPaddingEpiloguesAndOtherHeaders) {
  const std::string type = "Multipart/Form-Data; charset=utf-8; boundary=\"a b:c\"";
  const std::string body =
      "a preamble\r\n--a b:c \t\r\n"
      "content-disposition: FORM-DATA; name=x\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\n1\r\n--a b:c--\r\nan epilogue";
  EXPECT_EQ(parseMultipartFormData(type, body), (Fields{{"x", "1"}}));
  EXPECT_EQ(parseMultipartFormData(kType, kDash + "--\r\n"), Fields{});  // no field at all
}

TEST(MultipartFormData, RefusesABoundaryThatIsMissingRepeatedOrNotOneOfRfc2046s) {
  const std::string body = "--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--b--";
  EXPECT_TRUE(parseMultipartFormData("multipart/form-data; boundary=b", body));
  for (const std::string& type : std::vector<std::string>{
           "multipart/form-data", "multipart/form-data; boundary=",
           "multipart/form-data; boundary=\"\"", "multipart/form-data; boundary=b; boundary=b",
           "multipart/mixed; boundary=b", "multipart/form-data; boundary=\"b \"",
           "multipart/form-data; boundary=\"b;\"", "multipart/form-data; boundary=\"b",
           "multipart/form-data; boundary=" + std::string(71, 'b')})
    EXPECT_FALSE(parseMultipartFormData(type, body)) << type;
  const std::string longest(70, 'b');
  EXPECT_TRUE(parseMultipartFormData(
      "multipart/form-data; boundary=" + longest,
      "--" + longest + "\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--" + longest +
          "--"));
}

TEST(MultipartFormData, RefusesABodyCutShortOrFramedWrongly) {
  const std::string whole = part("a", "1") + kDash + "--";
  ASSERT_TRUE(parseMultipartFormData(kType, whole));
  for (std::size_t cut = 0; cut + 2 < whole.size(); ++cut)  // no closing delimiter
    EXPECT_FALSE(parseMultipartFormData(kType, whole.substr(0, cut))) << cut;
  EXPECT_FALSE(parseMultipartFormData(kType, "no delimiter at all"));
  // The boundary inside a value, not followed by CRLF or "--": not a delimiter, and refused
  // rather than guessed at (two readers must not see two different forms).
  EXPECT_FALSE(parseMultipartFormData(kType, part("a", "x\r\n" + kDash + "y") + kDash + "--"));
  // Headers not ended by an empty line, bare LF line ends.
  EXPECT_FALSE(parseMultipartFormData(
      kType, kDash + "\nContent-Disposition: form-data; name=\"a\"\n\n1\n" + kDash + "--"));
}

TEST(MultipartFormData, RefusesPartsThatAreNotTextFieldsOfAForm) {
  const auto refused = [](std::string_view headers) {
    const std::string body = kDash + "\r\n" + std::string(headers) + "\r\n1\r\n" + kDash + "--";
    return !parseMultipartFormData(kType, body);
  };
  EXPECT_FALSE(refused("Content-Disposition: form-data; name=\"a\"\r\n"));
  EXPECT_TRUE(refused("Content-Type: text/plain\r\n"));                     // no disposition
  EXPECT_TRUE(refused("Content-Disposition: attachment; name=\"a\"\r\n"));  // not form-data
  EXPECT_TRUE(refused("Content-Disposition: form-data\r\n"));               // no name
  EXPECT_TRUE(refused("Content-Disposition: form-data; name=\"a\"; name=\"b\"\r\n"));
  EXPECT_TRUE(refused("Content-Disposition: form-data; name=\"a\"; filename=\"f.txt\"\r\n"));
  EXPECT_TRUE(refused("Content-Disposition: form-data; name=\"a\"; filename*=UTF-8''f\r\n"));
  EXPECT_TRUE(refused("Content-Disposition: form-data; name=\"a\r\n"));  // unclosed quote
  // A name readers could read differently: RFC 2231's name*, a backslash in quotes.
  EXPECT_TRUE(refused("Content-Disposition: form-data; name=\"a\"; name*=UTF-8''b\r\n"));
  EXPECT_TRUE(refused("Content-Disposition: form-data; name=\"a\\\"b\"\r\n"));
  EXPECT_TRUE(refused("Content-Disposition: form-data; name=\"a\\\"\r\n"));
  EXPECT_TRUE(
      refused("Content-Disposition: form-data; name=\"a\"\r\n"
              "Content-Disposition: form-data; name=\"b\"\r\n"));  // two of them
  EXPECT_TRUE(
      refused("Content-Disposition: form-data; name=\"a\"\r\n"
              "Content-Transfer-Encoding: base64\r\n"));                       // RFC 7578 §4.7
  EXPECT_TRUE(refused("Content-Disposition: form-data;\r\n name=\"a\"\r\n"));  // folded
  EXPECT_TRUE(refused("Content-Disposition: form-data; name=\"a\"\r\nBad Name: x\r\n"));
  EXPECT_TRUE(refused("Content-Disposition: form-data; name=\"a\"\r\nX-Pad: " +
                      std::string(1024, 'p') + "\r\n"));  // part headers over 1 KiB
}

}  // namespace
}  // namespace gatehouse::http
