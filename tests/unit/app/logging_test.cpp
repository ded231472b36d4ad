#include "app/logging.hpp"

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/log.hpp"

namespace gatehouse::app {
namespace {

// What the logger writes to stderr while `log` runs, one format at a time.
template <class Log>
std::string captured(bool json, Log log) {
  const auto path =
      std::filesystem::temp_directory_path() / ("gatehouse-logging-" + std::to_string(::getpid()));
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ::dup2(file, 2);
  ::close(file);
  setupLogging(json, "info");
  log();
  spdlog::default_logger()->flush();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  std::filesystem::remove(path);
  return all.str();
}

TEST(Logging, OutsideTextForgesNoLineAndReachesNoTerminal) {
  const std::string outside =
      "x\n2026-01-01T00:00:00.000Z info request_id=X status=200 FORGED \x1b[31m\x7f\xff";
  const std::string text =
      captured(false, [&] { spdlog::info("request_id=r1 oauth_failure detail={}", outside); });
  EXPECT_EQ(text.find('\n'), text.size() - 1) << text;  // one line
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(text.find("detail=x\\x0a2026-01-01T00:00:00.000Z info request_id=X status=200 FORGED "
                      "\\x1b[31m\\x7f\\xff\n"),
            std::string::npos)
      << text;
  // Printable text, UTF-8 included, as it is; a backslash as \x5c, so no escape is forged.
  const std::string plain = captured(false, [] { spdlog::info("user=Zoë said \"hi\" a\\x0a"); });
  EXPECT_TRUE(plain.ends_with(" info user=Zoë said \"hi\" a\\x5cx0a\n")) << plain;
  // Line breaks and reordering marks that are valid UTF-8: NEL, CSI, U+2028, an RLO override.
  const std::string marks =
      captured(false, [] { spdlog::info("a\u0085b\u009bc\u2028d\u202ee\u2066f"); });
  EXPECT_TRUE(marks.ends_with(" info a\\u{0085}b\\u{009B}c\\u{2028}d\\u{202E}e\\u{2066}f\n"))
      << marks;
}

TEST(Logging, JsonLinesEscapeTheSameText) {
  const std::string json = captured(true, [] { spdlog::info("x\ny \x1b"); });
  EXPECT_EQ(json.find('\n'), json.size() - 1) << json;
  EXPECT_NE(json.find(R"("msg":"x\u000ay \u001b")"), std::string::npos) << json;
}

}  // namespace
}  // namespace gatehouse::app
