#include "dynlib/libpq.hpp"

#include <algorithm>
#include <vector>

#include "core/ascii.hpp"
#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

core::Result<const LibPq*> libpq() {
  return loadOnce<LibPq>("libpq.so.5",
                         [](const SharedLibrary& library, LibPq& table, core::Status& status) {
                           GATEHOUSE_LIBPQ_FUNCTIONS(GATEHOUSE_DYNLIB_BIND)
                         });
}

namespace {

// `text` with each valid %XX escape decoded (a bare '%' kept as it is).
std::string percentDecoded(std::string_view text) {
  const auto hex = core::hexValue;
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// The password as written in `url` (userinfo after the first ':', up to the last '@'; every
// password= parameter, keyword/value or query), each raw and decoded.
std::vector<std::string> passwordsIn(std::string_view url) {
  std::vector<std::string> out;
  const auto add = [&out](std::string_view raw) {
    if (raw.empty()) return;
    out.emplace_back(raw);
    out.push_back(percentDecoded(raw));
  };
  if (const auto scheme = url.find("://"); scheme != std::string_view::npos) {
    // Which '@' ends the userinfo depends on the reader (libpq takes the first before the path, a
    // query may hold more): every split after the first ':' is a candidate.
    const auto colon = url.find(':', scheme + 3);
    for (auto at = url.find('@', colon);
         colon != std::string_view::npos && at != std::string_view::npos;
         at = url.find('@', at + 1))
      add(url.substr(colon + 1, at - colon - 1));
  }
  for (auto p = url.find("password="); p != std::string_view::npos;
       p = url.find("password=", p + 1)) {
    const auto start = p + 9;
    const auto end = url.find_first_of("& ", start);
    add(url.substr(start, (end == std::string_view::npos ? url.size() : end) - start));
  }
  // Longest first: a password that holds another candidate is hidden whole.
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

}  // namespace

std::string connectionError(const LibPq& pq, PGconn* conn, std::string_view url) {
  std::string message = conn != nullptr ? pq.PQerrorMessage(conn) : "out of memory";
  while (!message.empty() && message.back() == '\n') message.pop_back();
  for (const auto& secret : passwordsIn(url)) {
    for (auto p = message.find(secret); p != std::string::npos; p = message.find(secret, p + 3))
      message.replace(p, secret.size(), "***");
  }
  return message;
}

}  // namespace gatehouse::dynlib
