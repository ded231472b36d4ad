#include "dynlib/shared_library.hpp"

#include <dlfcn.h>

namespace gatehouse::dynlib {

core::Result<SharedLibrary> SharedLibrary::open(const std::string& soname) {
  void* handle = ::dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return core::makeError(core::Errc::Unavailable,
                           "cannot load " + soname + ": " + (why != nullptr ? why : "unknown"));
  }
  return SharedLibrary(soname, handle);
}

core::Result<void*> SharedLibrary::symbol(const char* name) const {
  ::dlerror();
  void* address = ::dlsym(handle_, name);
  if (address == nullptr) {
    const char* why = ::dlerror();
    return core::makeError(
        core::Errc::Unavailable,
        soname_ + " has no " + name + " (a version too old?): " + (why != nullptr ? why : "null"));
  }
  return address;
}

}  // namespace gatehouse::dynlib
