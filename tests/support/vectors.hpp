#pragma once

#include <filesystem>
#include <string>

#include <boost/json/value.hpp>

namespace gatehouse::testing {

// Paths of ../shared/vectors and tests/testdata as configured at build time.
std::filesystem::path vectorsDir();
std::filesystem::path testdataDir();

// The whole file as bytes; aborts the test binary with a message if it cannot be read.
std::string readFile(const std::filesystem::path& path);
// Parses a JSON file (plain Boost.JSON: vector files are trusted input).
boost::json::value readJson(const std::filesystem::path& path);
// Hex string → bytes; aborts on bad hex (vector files are trusted).
std::string unhex(std::string_view hex);

}  // namespace gatehouse::testing
