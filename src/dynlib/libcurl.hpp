#pragma once

#include <curl/curl.h>

#include "core/error.hpp"

namespace gatehouse::dynlib {

// The functions of libcurl Gatehouse calls, one list (see libpq.hpp). Members drop the `curl_`
// prefix: curl.h makes curl_easy_setopt a macro (its argument type checks), which would swallow
// a member of that name.
// clang-format off
#define GATEHOUSE_LIBCURL_FUNCTIONS(X)                                    \
  X(curl_global_init, global_init) X(curl_easy_init, easy_init)           \
  X(curl_easy_setopt, easy_setopt) X(curl_easy_perform, easy_perform)     \
  X(curl_easy_getinfo, easy_getinfo) X(curl_easy_strerror, easy_strerror) \
  X(curl_easy_cleanup, easy_cleanup) X(curl_slist_append, slist_append)   \
  X(curl_slist_free_all, slist_free_all)
// clang-format on

// libcurl's functions: `curl.easy_setopt(handle, CURLOPT_URL, url)`.
struct LibCurl {
#define GATEHOUSE_LIBCURL_MEMBER(name, member) decltype(&::name) member = nullptr;
  GATEHOUSE_LIBCURL_FUNCTIONS(GATEHOUSE_LIBCURL_MEMBER)
#undef GATEHOUSE_LIBCURL_MEMBER
};

// libcurl.so.4, loaded and globally initialised on the first call (thread-safe; a failure is
// kept, not retried): a server with neither external sign-in nor SMTP never loads it. Unavailable
// with the loader's reason when it is not installed (Debian: libcurl4).
[[nodiscard]] core::Result<const LibCurl*> libcurl();

}  // namespace gatehouse::dynlib
