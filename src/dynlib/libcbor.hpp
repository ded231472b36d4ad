#pragma once

#include <cbor.h>

#include "core/error.hpp"
#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

// The function of libcbor Gatehouse calls (its streaming decoder, for passkeys), one list (see
// libpq.hpp).
#define GATEHOUSE_LIBCBOR_FUNCTIONS(X) X(cbor_stream_decode)

// libcbor's functions, named as in cbor.h: `cbor.cbor_stream_decode(data, n, &callbacks, ctx)`.
struct LibCbor {
  GATEHOUSE_LIBCBOR_FUNCTIONS(GATEHOUSE_DYNLIB_MEMBER)
};

// libcbor.so.0.8, loaded on the first call (thread-safe; a failure is kept, not retried): a
// server with passkeys off never loads it. Unavailable with the loader's reason when it is not
// installed (Debian: libcbor0.8).
[[nodiscard]] core::Result<const LibCbor*> libcbor();

}  // namespace gatehouse::dynlib
