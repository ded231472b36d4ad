#pragma once

#include <string>
#include <utility>

#include "core/error.hpp"

namespace gatehouse::dynlib {

// A shared library opened at run time (dlopen), for the client libraries only some deployments
// use: libpq (PostgreSQL) and libcurl (external sign-in, SMTP) each pull in about 25 more
// libraries (Kerberos, LDAP, GnuTLS, SASL), and loading them took a third of the start of a
// server on SQLite, which uses neither. Never closed: the functions looked up stay valid.
class SharedLibrary {
 public:
  // Unavailable naming the library and the loader's reason when it cannot be loaded.
  [[nodiscard]] static core::Result<SharedLibrary> open(const std::string& soname);

  // The address of `name`; Unavailable when the library lacks it.
  [[nodiscard]] core::Result<void*> symbol(const char* name) const;

  const std::string& soname() const { return soname_; }

 private:
  SharedLibrary(std::string soname, void* handle) : soname_(std::move(soname)), handle_(handle) {}

  std::string soname_;
  void* handle_;
};

// Looks up every function of a binding table (see libpq.hpp): sets `*slot` to the address of
// `name`, or records the first missing one in `status`.
template <class F>
void bind(const SharedLibrary& library, const char* name, F*& slot, core::Status& status) {
  if (!status) return;
  auto address = library.symbol(name);
  if (!address) {
    status = tl::unexpected(address.error());
    return;
  }
  slot = reinterpret_cast<F*>(*address);
}

}  // namespace gatehouse::dynlib
