#include "dynlib/libssl.hpp"

#include "dynlib/shared_library.hpp"

static_assert(OPENSSL_VERSION_MAJOR == 3, "libssl.so.3 is loaded by name");

namespace gatehouse::dynlib {

core::Result<const LibSsl*> libssl() {
  return loadOnce<LibSsl>("libssl.so.3",
                          [](const SharedLibrary& library, LibSsl& table, core::Status& status) {
                            GATEHOUSE_LIBSSL_FUNCTIONS(GATEHOUSE_DYNLIB_BIND)
                          });
}

}  // namespace gatehouse::dynlib
