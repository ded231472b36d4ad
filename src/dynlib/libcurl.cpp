#include "dynlib/libcurl.hpp"

#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

core::Result<const LibCurl*> libcurl() {
  // Never destroyed: threads still running at exit may call through it.
  static const auto* const loaded = new core::Result<LibCurl>([]() -> core::Result<LibCurl> {
    auto library = SharedLibrary::open("libcurl.so.4");
    if (!library) return tl::unexpected(library.error());
    LibCurl table;
    core::Status status;
#define GATEHOUSE_LIBCURL_BIND(name, member) bind(*library, #name, table.member, status);
    GATEHOUSE_LIBCURL_FUNCTIONS(GATEHOUSE_LIBCURL_BIND)
#undef GATEHOUSE_LIBCURL_BIND
    if (!status) return tl::unexpected(status.error());
    // Once, before any other call (it is not thread-safe in every libcurl build).
    if (const CURLcode rc = table.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
      return core::makeError(core::Errc::Unavailable,
                             std::string("curl_global_init failed: ") + table.easy_strerror(rc));
    }
    return table;
  }());
  if (!*loaded) return tl::unexpected(loaded->error());
  return &**loaded;
}

}  // namespace gatehouse::dynlib
