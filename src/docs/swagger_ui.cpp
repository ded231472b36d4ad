#include "docs/swagger_ui.hpp"

#include <algorithm>

#include "docs/embedded.hpp"

namespace gatehouse::docs {
namespace {

// Text types carry their charset so browsers never sniff (the server sends nosniff).
std::string_view contentTypeOf(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";  // RFC 9239 §6
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".png")) return "image/png";
  return "text/plain; charset=utf-8";  // LICENSE, NOTICE, *.txt
}

}  // namespace

std::optional<Asset> swaggerAsset(std::string_view name) {
  const auto files = swagger_files::embeddedFiles();
  const auto it = std::find_if(files.begin(), files.end(),
                               [&](const EmbeddedFile& f) { return f.name == name; });
  if (it == files.end()) return std::nullopt;
  return Asset{contentTypeOf(it->name), it->bytes};
}

bool swaggerAvailable() { return !swagger_files::embeddedFiles().empty(); }

}  // namespace gatehouse::docs
