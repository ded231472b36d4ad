#pragma once

#include <hiredis/hiredis.h>

#include "core/error.hpp"
#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

// The functions of hiredis Gatehouse calls (its RESP reader and command formatter), one list (see
// libpq.hpp).
// clang-format off
#define GATEHOUSE_LIBHIREDIS_FUNCTIONS(X)                                           \
  X(redisReaderCreate) X(redisReaderFree) X(redisReaderFeed) X(redisReaderGetReply) \
  X(redisFormatCommandArgv) X(redisFreeCommand) X(freeReplyObject)
// clang-format on

// hiredis's functions, named as in hiredis.h: `redis.redisReaderFeed(reader, data, n)`.
struct LibHiredis {
  GATEHOUSE_LIBHIREDIS_FUNCTIONS(GATEHOUSE_DYNLIB_MEMBER)
};

// libhiredis.so.0.14, loaded on the first call (thread-safe; a failure is kept, not retried): a
// server without REDIS_URL never loads it. Unavailable with the loader's reason when it is not
// installed (Debian: libhiredis0.14).
[[nodiscard]] core::Result<const LibHiredis*> libhiredis();

}  // namespace gatehouse::dynlib
