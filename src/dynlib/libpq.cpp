#include "dynlib/libpq.hpp"

#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

core::Result<const LibPq*> libpq() {
  // Never destroyed: threads still running at exit may call through it.
  static const auto* const loaded = new core::Result<LibPq>([]() -> core::Result<LibPq> {
    auto library = SharedLibrary::open("libpq.so.5");
    if (!library) return tl::unexpected(library.error());
    LibPq table;
    core::Status status;
#define GATEHOUSE_LIBPQ_BIND(name) bind(*library, #name, table.name, status);
    GATEHOUSE_LIBPQ_FUNCTIONS(GATEHOUSE_LIBPQ_BIND)
#undef GATEHOUSE_LIBPQ_BIND
    if (!status) return tl::unexpected(status.error());
    return table;
  }());
  if (!*loaded) return tl::unexpected(loaded->error());
  return &**loaded;
}

}  // namespace gatehouse::dynlib
