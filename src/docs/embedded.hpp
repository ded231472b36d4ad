#pragma once

#include <span>
#include <string_view>

namespace gatehouse::docs {

// A file compiled into the binary by cmake/EmbedFiles.cmake: its base name and bytes.
struct EmbeddedFile {
  std::string_view name;
  std::string_view bytes;
};

namespace swagger_files {

// Swagger UI's files and ours, generated at build time; empty when the package was not installed.
std::span<const EmbeddedFile> embeddedFiles();

}  // namespace swagger_files
}  // namespace gatehouse::docs
