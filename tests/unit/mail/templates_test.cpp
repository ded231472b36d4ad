// The mail templates: every built-in renders its link, values are escaped in HTML only, overrides
// replace one part, and load() refuses unknown placeholders, large files and split subjects.
#include "mail/templates.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

namespace gatehouse::mail {
namespace {

constexpr const char* kLink = "https://auth.example.com/ui/reset-password#token=abc_DEF-123";

Values values() {
  return {{"product", "Gatehouse"},
          {"link", kLink},
          {"username", "ann"},
          {"email", "ann@example.com"},
          {"new_email", "ann.new@example.com"},
          {"public_url", "https://auth.example.com"},
          {"expires", "15 minutes"}};
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// A template folder of its own, removed afterwards.
class TemplateDir : public ::testing::Test {
 protected:
  TemplateDir() {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "mail");
  }
  ~TemplateDir() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path write(const std::string& name, const std::string& content) {
    const auto path = dir_ / "mail" / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  // load()'s error message, or "" when it succeeded.
  std::string loadError() {
    auto t = Templates::load(dir_);
    if (t) return "";
    EXPECT_EQ(t.error().code, core::Errc::InvalidArgument);
    return t.error().message;
  }

  std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                               ("gatehouse-templates-" + std::to_string(::getpid()) + "-" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
};

TEST(Templates, EveryBuiltInRendersWithItsValues) {
  const auto t = Templates::load(std::nullopt);
  ASSERT_TRUE(t) << t.error().message;
  for (const char* name : {"reset-password", "verify-email", "confirm-email-change"}) {
    auto r = t->render(name, values());
    ASSERT_TRUE(r) << name << ": " << r.error().message;
    EXPECT_FALSE(r->subject.empty()) << name;
    EXPECT_TRUE(contains(r->text, kLink)) << name << " text:\n" << r->text;
    EXPECT_TRUE(contains(r->html, std::string("href=\"") + kLink + "\"")) << name << " html";
    EXPECT_TRUE(contains(r->text, "15 minutes")) << name;
    EXPECT_TRUE(contains(r->subject + r->text, "Gatehouse")) << name;
    EXPECT_FALSE(contains(r->subject + r->text + r->html, "{{")) << name;
  }
  // A link that gives an address to an account names that account, and tells a reader who did
  // not make it what confirming would do (a victim following a squatter's or a holder's link
  // gave them the address: an outside attack).
  // The warning itself, as a phrase (a review: the word "would" alone passed almost any text).
  const std::pair<const char*, const char*> warned[] = {
      {"verify-email", "confirming would give the address to whoever"},
      {"confirm-email-change", "not yours would let whoever holds it use your address"}};
  for (const auto& [name, warning] : warned) {
    auto r = t->render(name, values());
    ASSERT_TRUE(r) << name;
    for (const auto& part : {r->text, r->html}) {
      EXPECT_TRUE(contains(part, "account ann")) << name << ":\n" << part;
      EXPECT_TRUE(contains(part, warning)) << name << ":\n" << part;
    }
  }
  auto notice = t->render("email-change-notice", values());
  ASSERT_TRUE(notice);
  EXPECT_TRUE(contains(notice->text, "ann.new@example.com"));
  EXPECT_TRUE(contains(notice->html, "ann.new@example.com"));
  EXPECT_TRUE(contains(notice->text, "ann@example.com"));
  EXPECT_FALSE(contains(notice->subject + notice->text + notice->html, "{{"));
  // The security notices: each names the account and links where to mend it.
  for (const auto& [name, word] : {std::pair{"passkey-added", "passkey"},
                                   {"totp-added", "authenticator app"},
                                   {"recovery-codes-replaced", "recovery codes"},
                                   {"factor-removed", "second factor"},
                                   {"password-changed", "password"},
                                   {"identity-linked", "provider"},
                                   {"second-factor-failures", "second-factor"},
                                   {"second-factor-locked", "second-factor"}}) {
    auto r = t->render(name, values());
    ASSERT_TRUE(r) << name;
    EXPECT_TRUE(contains(r->subject, word)) << name << ": " << r->subject;
    EXPECT_TRUE(contains(r->text, "ann@example.com") && contains(r->text, kLink)) << name;
    EXPECT_TRUE(contains(r->html, std::string("href=\"") + kLink + "\"")) << name;
    EXPECT_FALSE(contains(r->subject + r->text + r->html, "{{")) << name;
  }
  auto test = t->render("test", values());
  ASSERT_TRUE(test);
  EXPECT_FALSE(test->subject.empty());
  EXPECT_TRUE(contains(test->text, "https://auth.example.com"));
  EXPECT_TRUE(contains(test->html, "https://auth.example.com"));
  EXPECT_FALSE(contains(test->subject + test->text + test->html, "{{"));
}

TEST(Templates, AnAbsentValueRendersEmpty) {
  const auto t = Templates::load(std::nullopt).value();
  auto r = t.render("reset-password", {{"link", kLink}});
  ASSERT_TRUE(r);
  EXPECT_TRUE(contains(r->text, kLink));
  EXPECT_FALSE(contains(r->subject + r->text + r->html, "{{"));
}

TEST(Templates, ValuesAreEscapedInHtmlOnly) {
  const auto t = Templates::load(std::nullopt).value();
  Values v = values();
  v["username"] = "<script>alert('x')</script>";
  v["link"] = "https://auth.example.com/ui/reset-password?a=1&b=\"2\"#token=abc";
  auto r = t.render("reset-password", v);
  ASSERT_TRUE(r);
  EXPECT_TRUE(contains(r->html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
  EXPECT_FALSE(contains(r->html, "<script>"));
  EXPECT_TRUE(contains(r->html,
                       "href=\"https://auth.example.com/ui/reset-password?a=1&amp;b="
                       "&quot;2&quot;#token=abc\""));
  EXPECT_TRUE(contains(r->text, "<script>alert('x')</script>"));
  EXPECT_TRUE(contains(r->text, "?a=1&b=\"2\"#token=abc"));
  EXPECT_FALSE(contains(r->text, "&lt;"));
}

TEST(Templates, AValueIsNeverExpandedAgain) {
  const auto t = Templates::load(std::nullopt).value();
  Values v = values();
  v["username"] = "{{link}}";
  auto r = t.render("reset-password", v);
  ASSERT_TRUE(r);
  EXPECT_TRUE(contains(r->text, "Hello {{link}},"));
  EXPECT_TRUE(contains(r->html, "Hello {{link}},"));
}

TEST(Templates, AValueCannotSplitTheSubject) {
  const auto t = Templates::load(std::nullopt).value();
  for (const char* evil :
       {"Gatehouse\r\nBcc: evil@example.com", "Gatehouse\nBcc: evil@example.com", "x\ry"}) {
    Values v = values();
    v["product"] = evil;
    for (const char* name :
         {"reset-password", "verify-email", "confirm-email-change", "email-change-notice",
          "passkey-added", "totp-added", "recovery-codes-replaced", "factor-removed",
          "password-changed", "identity-linked", "second-factor-failures", "second-factor-locked",
          "test"}) {
      auto r = t.render(name, v);
      ASSERT_TRUE(r) << name;
      EXPECT_EQ(r->subject.find_first_of("\r\n"), std::string::npos) << name << ": " << r->subject;
    }
  }
}

TEST(Templates, AnUnknownNameIsRefused) {
  const auto t = Templates::load(std::nullopt).value();
  for (const char* name : {"", "nope", "reset", "Reset-Password", "reset-password.txt"}) {
    auto r = t.render(name, values());
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, core::Errc::InvalidArgument);
  }
}

TEST_F(TemplateDir, AnOverrideReplacesOnlyItsPart) {
  write("reset-password.txt", "Custom for {{username}}: {{link}}\n");
  const auto builtIn = Templates::load(std::nullopt).value().render("reset-password", values());
  auto t = Templates::load(dir_);
  ASSERT_TRUE(t) << t.error().message;
  auto r = t->render("reset-password", values());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, std::string("Custom for ann: ") + kLink + "\n");
  EXPECT_EQ(r->subject, builtIn->subject);
  EXPECT_EQ(r->html, builtIn->html);
  // The other templates are untouched.
  const auto verify = Templates::load(std::nullopt).value().render("verify-email", values());
  EXPECT_EQ(t->render("verify-email", values())->text, verify->text);
}

TEST_F(TemplateDir, SubjectAndHtmlOverridesApply) {
  write("verify-email.subject", "Welcome to {{product}}\n");  // one line, its newline trimmed
  write("verify-email.html", "<p>{{username}} <a href=\"{{link}}\">go</a></p>");
  auto t = Templates::load(dir_);
  ASSERT_TRUE(t) << t.error().message;
  Values v = values();
  v["username"] = "<b>";
  auto r = t->render("verify-email", v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->subject, "Welcome to Gatehouse");
  EXPECT_EQ(r->html, std::string("<p>&lt;b&gt; <a href=\"") + kLink + "\">go</a></p>");
}

TEST_F(TemplateDir, AnUnknownPlaceholderFailsNamingTheFile) {
  const auto path = write("reset-password.html", "<p>{{username}} {{nope}}</p>");
  const std::string error = loadError();
  EXPECT_TRUE(contains(error, path.string())) << error;
  EXPECT_TRUE(contains(error, "{{nope}}")) << error;
}

TEST_F(TemplateDir, AnUnknownPlaceholderInASubjectFailsToo) {
  const auto path = write("test.subject", "Hello {{user}}");
  const std::string error = loadError();
  EXPECT_TRUE(contains(error, path.string())) << error;
}

TEST_F(TemplateDir, AnUnclosedPlaceholderFails) {
  const auto path = write("verify-email.txt", "Open {{link}} or {{link");
  EXPECT_TRUE(contains(loadError(), path.string()));
}

TEST_F(TemplateDir, AFileOver64KibFails) {
  const auto path = write("confirm-email-change.txt", std::string(64 * 1024 + 1, 'x'));
  const std::string error = loadError();
  EXPECT_TRUE(contains(error, path.string())) << error;
}

TEST_F(TemplateDir, AFileOfExactly64KibLoads) {
  write("confirm-email-change.txt", std::string(64 * 1024 - 9, 'x') + "{{link}}\n");
  auto t = Templates::load(dir_);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_TRUE(contains(t->render("confirm-email-change", values())->text, kLink));
}

TEST_F(TemplateDir, AMultiLineSubjectFails) {
  const auto path = write("reset-password.subject", "Reset\nyour password\n");
  const std::string error = loadError();
  EXPECT_TRUE(contains(error, path.string())) << error;
  write("reset-password.subject", "Reset\r\nBcc: evil@example.com");
  EXPECT_TRUE(contains(loadError(), path.string()));
}

TEST_F(TemplateDir, NoOverridesMeansTheBuiltIns) {
  // An empty mail folder, and a folder without one, both leave the built-ins.
  auto t = Templates::load(dir_);
  ASSERT_TRUE(t);
  const auto builtIn = Templates::load(std::nullopt).value().render("test", values());
  EXPECT_EQ(t->render("test", values())->text, builtIn->text);
  std::filesystem::remove_all(dir_ / "mail");
  EXPECT_TRUE(Templates::load(dir_));
}

}  // namespace
}  // namespace gatehouse::mail
