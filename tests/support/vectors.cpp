#include "support/vectors.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/json/parse.hpp>

#include "core/base64url.hpp"

namespace gatehouse::testing {

std::filesystem::path vectorsDir() { return GATEHOUSE_VECTORS_DIR; }
std::filesystem::path testdataDir() { return GATEHOUSE_TESTDATA_DIR; }

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

boost::json::value readJson(const std::filesystem::path& path) {
  return boost::json::parse(readFile(path));
}

std::string unhex(std::string_view hex) {
  auto bytes = core::hexDecode(hex);
  if (!bytes) {
    std::fprintf(stderr, "bad hex in vector\n");
    std::abort();
  }
  return *bytes;
}

}  // namespace gatehouse::testing
