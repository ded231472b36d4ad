#include "dynlib/libcurl.hpp"

#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

core::Result<const LibCurl*> libcurl() {
  return loadOnce<LibCurl>(
      "libcurl.so.4",
      [](const SharedLibrary& library, LibCurl& table, core::Status& status) {
#define GATEHOUSE_LIBCURL_BIND(name, member) bind(library, #name, table.member, status);
        GATEHOUSE_LIBCURL_FUNCTIONS(GATEHOUSE_LIBCURL_BIND)
#undef GATEHOUSE_LIBCURL_BIND
      },
      // Once, before any other call (it is not thread-safe in every libcurl build).
      [](const LibCurl& table) -> core::Status {
        if (const CURLcode rc = table.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
          return core::makeError(core::Errc::Unavailable, std::string("curl_global_init failed: ") +
                                                              table.easy_strerror(rc));
        }
        return {};
      });
}

}  // namespace gatehouse::dynlib
