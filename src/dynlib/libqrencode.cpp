#include "dynlib/libqrencode.hpp"

#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

core::Result<const LibQrencode*> libqrencode() {
  return loadOnce<LibQrencode>("libqrencode.so.4", [](const SharedLibrary& library,
                                                      LibQrencode& table, core::Status& status) {
    GATEHOUSE_LIBQRENCODE_FUNCTIONS(GATEHOUSE_DYNLIB_BIND)
  });
}

}  // namespace gatehouse::dynlib
