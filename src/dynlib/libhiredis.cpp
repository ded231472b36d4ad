#include "dynlib/libhiredis.hpp"

#include "dynlib/shared_library.hpp"

// The soname below is the one of the headers compiled against (Debian 12's libhiredis-dev): a
// newer hiredis changes both, and its reply layout.
static_assert(HIREDIS_MAJOR == 0 && HIREDIS_MINOR == 14, "libhiredis.so.0.14 is loaded by name");

namespace gatehouse::dynlib {

core::Result<const LibHiredis*> libhiredis() {
  return loadOnce<LibHiredis>("libhiredis.so.0.14", [](const SharedLibrary& library,
                                                       LibHiredis& table, core::Status& status) {
    GATEHOUSE_LIBHIREDIS_FUNCTIONS(GATEHOUSE_DYNLIB_BIND)
  });
}

}  // namespace gatehouse::dynlib
