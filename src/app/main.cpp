// gatehouse: the command-line entry point. For now `--version` and `config`, which prints the
// effective configuration; `serve` arrives with the HTTP server.
#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "core/version.hpp"

namespace {

std::string env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read once at startup
  return v != nullptr ? v : fallback;
}

void printConfig() {
  std::cout << "gatehouse " << gatehouse::core::kVersion << "\n"
            << "  DATABASE_URL                = "
            << env("DATABASE_URL", "sqlite:///./gatehouse-data/gatehouse.db") << "\n"
            << "  GATEHOUSE_LISTEN            = " << env("GATEHOUSE_LISTEN", "127.0.0.1:8000")
            << "\n"
            << "  ALGORITHM                   = " << env("ALGORITHM", "HS256") << "\n"
            << "  SECRET_KEY                  = "
            << (std::getenv("SECRET_KEY") != nullptr ? "(set, not shown)"
                                                     : "(generated on first start)")
            << "\n"  // NOLINT(concurrency-mt-unsafe)
            << "  PASSWORD_SCHEME             = " << env("PASSWORD_SCHEME", "bcrypt") << "\n"
            << "  BCRYPT_ROUNDS               = " << env("BCRYPT_ROUNDS", "12") << "\n"
            << "  ACCESS_TOKEN_EXPIRE_MINUTES = " << env("ACCESS_TOKEN_EXPIRE_MINUTES", "30")
            << "\n"
            << "  REFRESH_TOKEN_EXPIRE_DAYS   = " << env("REFRESH_TOKEN_EXPIRE_DAYS", "7") << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Gatehouse: a self-hosted authentication and authorization server"};
  app.set_version_flag("--version", std::string("gatehouse ") + gatehouse::core::kVersion);
  app.require_subcommand(0, 1);
  auto* serve = app.add_subcommand(
      "serve", "Run the server (the HTTP API is not built yet: prints the configuration)");
  auto* config = app.add_subcommand("config", "Print the effective configuration (secrets hidden)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*serve || *config || app.get_subcommands().empty()) {
    printConfig();
    if (*serve) std::cout << "The HTTP API is not part of this build yet; nothing to serve.\n";
  }
  return 0;
}
