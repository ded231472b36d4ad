#include "app/page_setup.hpp"

#include <filesystem>
#include <fstream>
#include <memory>
#include <unistd.h>

#include <gtest/gtest.h>

namespace gatehouse::app {
namespace {

using Problems = std::vector<std::string>;

config::Config publicAt(std::string url) {
  config::Config config;
  config.public_url = std::move(url);
  return config;
}

// Secure cookies everywhere but plain HTTP to this machine: a server listening on every address
// without GATEHOUSE_PUBLIC_URL (http://0.0.0.0:8000) is not "local", and neither is a host that
// merely begins like one.
TEST(PageSetup, CookiesAreSecureUnlessServedOverPlainHttpToThisMachine) {
  for (const std::string local : {"http://localhost", "http://localhost:8000", "http://127.0.0.1",
                                  "http://127.0.0.1:8000/base"}) {
    Problems problems;
    EXPECT_FALSE(pageSetup(publicAt(local), problems).secure_cookies) << local;
    EXPECT_EQ(problems, Problems{}) << local;
  }
  for (const std::string other : {"https://localhost:8443", "http://localhost.example.com",
                                  "http://127.0.0.10:8000", "https://auth.example.com"}) {
    Problems problems;
    EXPECT_TRUE(pageSetup(publicAt(other), problems).secure_cookies) << other;
    EXPECT_EQ(problems, Problems{}) << other;
  }
  // Without GATEHOUSE_PUBLIC_URL the start's warning says what is set: a server listening on
  // every address sets Secure cookies (the warning said "not Secure", for any plain http URL).
  config::Config everywhere;
  everywhere.listen_host = "0.0.0.0";
  everywhere.listen_port = 8000;
  Problems problems;
  EXPECT_EQ(publicUrl(everywhere), "http://0.0.0.0:8000");
  const auto setup = pageSetup(everywhere, problems);
  EXPECT_TRUE(setup.secure_cookies);
  EXPECT_EQ(
      setup.warnings,
      Problems{"GATEHOUSE_PUBLIC_URL is not set: the pages' cookies are Secure (browsers keep "
               "them over HTTPS only) and their links point to http://0.0.0.0:8000"});
  everywhere.listen_host = "127.0.0.1";
  EXPECT_EQ(pageSetup(everywhere, problems).warnings,
            Problems{"GATEHOUSE_PUBLIC_URL is not set: the pages' cookies are not Secure and their "
                     "links point to http://127.0.0.1:8000"});
  EXPECT_EQ(pageSetup(publicAt("http://127.0.0.1:8000"), problems).warnings, Problems{});
  everywhere.listen_host = "::1";
  EXPECT_EQ(publicUrl(everywhere), "http://[::1]:8000");
}

TEST(PageSetup, ReturnOriginsAreSpeltOnceAndEachBadSettingIsOneProblem) {
  config::Config config = publicAt("https://auth.example.com/");
  config.allowed_return_urls = {"https://App.Example.com/after/login", "http://localhost:3000"};
  Problems problems;
  const auto setup = pageSetup(config, problems);
  EXPECT_EQ(problems, Problems{});
  EXPECT_EQ(setup.own_origin, "https://auth.example.com");
  EXPECT_EQ(setup.return_origins, (Problems{"https://app.example.com", "http://localhost:3000"}));
  config.allowed_return_urls = {"https://app.example.com", "javascript:alert(1)"};
  config.session_cookie_domain = "other.example";
  (void)pageSetup(config, problems);
  EXPECT_EQ(problems,
            (Problems{"ALLOWED_RETURN_URLS: not an http(s) origin: javascript:alert(1)",
                      "SESSION_COOKIE_DOMAIN: other.example does not cover GATEHOUSE_PUBLIC_URL's "
                      "host auth.example.com"}));
  problems.clear();
  config.session_cookie_domain = ".Example.com";  // covers auth.example.com
  config.allowed_return_urls.clear();
  (void)pageSetup(config, problems);
  EXPECT_EQ(problems, Problems{});
  (void)pageSetup(publicAt("ftp://auth.example.com"), problems);
  EXPECT_EQ(problems, Problems{"GATEHOUSE_PUBLIC_URL: not an http(s) URL: ftp://auth.example.com"});
  // An outside attack: config --check printed a password given in the URL.
  problems.clear();
  (void)pageSetup(publicAt("ftp://admin:zzS3cret@auth.example.com"), problems);
  EXPECT_EQ(problems,
            Problems{"GATEHOUSE_PUBLIC_URL: not an http(s) URL: ftp://admin:***@auth.example.com"});
}

TEST(PageSetup, TheOperatorsStylesheetIsReadFromTheTemplateFolder) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("gatehouse-page-setup-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // Removed however the test ends (an ASSERT returns early).
  const std::unique_ptr<const std::filesystem::path, void (*)(const std::filesystem::path*)>
      removed(&dir, [](const std::filesystem::path* p) { std::filesystem::remove_all(*p); });
  config::Config config = publicAt("https://auth.example.com");
  config.mail.template_dir = dir;
  Problems problems;
  EXPECT_EQ(pageSetup(config, problems).operator_css, "");
  std::ofstream(dir / "ui.css") << "body { color: #123456; }\n";
  EXPECT_EQ(pageSetup(config, problems).operator_css, "body { color: #123456; }\n");
  EXPECT_EQ(problems, Problems{});
  // A ui.css that is not a file, or is too large, stops the start with the setting named (a
  // folder read through a stream threw, and the server died without a word).
  std::filesystem::remove(dir / "ui.css");
  std::filesystem::create_directory(dir / "ui.css");
  (void)pageSetup(config, problems);
  EXPECT_EQ(problems, Problems{"GATEHOUSE_TEMPLATE_DIR: ui.css is not a file of at most 256 KiB"});
  std::filesystem::remove(dir / "ui.css");
  std::ofstream(dir / "ui.css") << std::string(256 * 1024 + 1, ' ');
  (void)pageSetup(config, problems);
  EXPECT_EQ(problems.size(), 2U);
  std::filesystem::resize_file(dir / "ui.css", 256 * 1024);
  EXPECT_EQ(pageSetup(config, problems).operator_css.size(), 256U * 1024U);
  EXPECT_EQ(problems.size(), 2U);
}

}  // namespace
}  // namespace gatehouse::app
