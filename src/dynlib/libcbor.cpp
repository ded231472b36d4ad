#include "dynlib/libcbor.hpp"

#include "dynlib/shared_library.hpp"

// The soname below is the one of the headers compiled against (Debian 12's libcbor-dev): a newer
// libcbor changes both, and its callbacks' layout.
static_assert(CBOR_MAJOR_VERSION == 0 && CBOR_MINOR_VERSION == 8,
              "libcbor.so.0.8 is loaded by name");

namespace gatehouse::dynlib {

core::Result<const LibCbor*> libcbor() {
  return loadOnce<LibCbor>("libcbor.so.0.8",
                           [](const SharedLibrary& library, LibCbor& table, core::Status& status) {
                             GATEHOUSE_LIBCBOR_FUNCTIONS(GATEHOUSE_DYNLIB_BIND)
                           });
}

}  // namespace gatehouse::dynlib
