#include "docs/swagger_ui.hpp"

#include <array>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

namespace gatehouse::docs {
namespace {

std::filesystem::path webDir() { return GATEHOUSE_SWAGGER_WEB_DIR; }
std::filesystem::path distDir() { return webDir() / "node_modules" / "swagger-ui-dist"; }

// Every file the build embeds, with the media type it is served with.
constexpr std::array<std::pair<std::string_view, std::string_view>, 8> kFiles{{
    {"index.html", "text/html; charset=utf-8"},
    {"gatehouse-init.js", "text/javascript; charset=utf-8"},
    {"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
    {"swagger-ui.css", "text/css; charset=utf-8"},
    {"favicon-32x32.png", "image/png"},
    {"LICENSE", "text/plain; charset=utf-8"},
    {"NOTICE", "text/plain; charset=utf-8"},
    {"swagger-ui-bundle.js.LICENSE.txt", "text/plain; charset=utf-8"},
}};

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::filesystem::path sourceOf(std::string_view name) {
  return name == "index.html" || name == "gatehouse-init.js" ? webDir() / name : distDir() / name;
}

TEST(SwaggerUi, EmbeddedExactlyWhenThePackageIsInstalled) {
  // The build embeds what `npm ci --prefix web/swagger-ui` installed, and nothing without it.
  EXPECT_EQ(swaggerAvailable(), std::filesystem::exists(distDir() / "swagger-ui-bundle.js"));
}

TEST(SwaggerUi, UnknownNamesFindNothing) {
  for (const char* name :
       {"", "index.htm", "INDEX.HTML", "/index.html", "index.html/", "./index.html",
        "../index.html", "docs/index.html", "swagger-ui-bundle.js.map", "swagger-ui.js",
        "swagger-initializer.js", "package.json", "node_modules/swagger-ui-dist/LICENSE"}) {
    EXPECT_EQ(swaggerAsset(name), std::nullopt) << name;
  }
  EXPECT_EQ(swaggerAsset(std::string_view("index.html\0", 11)), std::nullopt);
}

TEST(SwaggerUi, EachFileIsTheInstalledOneWithItsType) {
  if (!swaggerAvailable())
    GTEST_SKIP() << "Swagger UI not installed: see AbsentPackageFindsNothing";
  for (const auto& [name, type] : kFiles) {
    const auto asset = swaggerAsset(name);
    ASSERT_TRUE(asset.has_value()) << name;
    EXPECT_EQ(asset->content_type, type) << name;
    EXPECT_FALSE(asset->body.empty()) << name;
    EXPECT_TRUE(asset->body == readFile(sourceOf(name))) << name << " differs from its source";
  }
  EXPECT_NE(swaggerAsset("LICENSE")->body.find("Apache License"), std::string_view::npos);
}

TEST(SwaggerUi, PageHasNoInlineScriptAndLoadsOurFiles) {
  if (!swaggerAvailable())
    GTEST_SKIP() << "Swagger UI not installed: see AbsentPackageFindsNothing";
  const std::string_view page = swaggerAsset("index.html")->body;
  // The CSP (script-src 'self') would block inline script: every <script> names a file.
  std::size_t scripts = 0;
  for (auto at = page.find("<script"); at != std::string_view::npos;
       at = page.find("<script", at + 1)) {
    EXPECT_EQ(page.substr(at, 13), "<script src=\"") << page.substr(at, 40);
    ++scripts;
  }
  EXPECT_EQ(scripts, 2U);
  EXPECT_EQ(page.find("<style"), std::string_view::npos);
  EXPECT_EQ(page.find(" style="), std::string_view::npos);
  for (const char* src : {"\"/docs/swagger-ui.css\"", "\"/docs/swagger-ui-bundle.js\"",
                          "\"/docs/gatehouse-init.js\""}) {
    EXPECT_NE(page.find(src), std::string_view::npos) << src;
  }
  const std::string_view init = swaggerAsset("gatehouse-init.js")->body;
  EXPECT_NE(init.find("url: \"/openapi.json\""), std::string_view::npos);
  EXPECT_NE(init.find("dom_id: \"#swagger-ui\""), std::string_view::npos);
}

TEST(SwaggerUi, AbsentPackageFindsNothing) {
  if (swaggerAvailable()) GTEST_SKIP() << "Swagger UI installed: see EachFileIsTheInstalledOne...";
  for (const auto& file : kFiles) {
    EXPECT_EQ(swaggerAsset(file.first), std::nullopt) << file.first;
  }
}

}  // namespace
}  // namespace gatehouse::docs
