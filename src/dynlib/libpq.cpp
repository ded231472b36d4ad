#include "dynlib/libpq.hpp"

#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

core::Result<const LibPq*> libpq() {
  return loadOnce<LibPq>("libpq.so.5",
                         [](const SharedLibrary& library, LibPq& table, core::Status& status) {
                           GATEHOUSE_LIBPQ_FUNCTIONS(GATEHOUSE_DYNLIB_BIND)
                         });
}

}  // namespace gatehouse::dynlib
