#pragma once

#include <string>
#include <utility>

#include "core/error.hpp"

namespace gatehouse::dynlib {

// A shared library opened at run time (dlopen), for the libraries only some deployments use:
// libpq (PostgreSQL) and libcurl (external sign-in, SMTP) each pull in about 25 more libraries
// (Kerberos, LDAP, GnuTLS, SASL), and loading them took a third of the start of a server on
// SQLite, which uses neither; hiredis and libssl (Redis) and libcbor (passkeys) cost the start
// a millisecond or so more. Never closed: the functions looked up stay valid.
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

// The one table of `Table` for the process: `soname` opened and `bindAll(library, table, status)`
// run on the first call (thread-safe), then `ready(table)` (a library's global initialisation), if
// given. A failure is kept, not retried. The table is never destroyed: threads still running at
// exit may call through it.
template <class Table, class BindAll>
core::Result<const Table*> loadOnce(const char* soname, BindAll bindAll,
                                    core::Status (*ready)(const Table&) = nullptr) {
  static const auto* const loaded = new core::Result<Table>([&]() -> core::Result<Table> {
    auto library = SharedLibrary::open(soname);
    if (!library) return tl::unexpected(library.error());
    Table table;
    core::Status status;
    bindAll(*library, table, status);
    if (status && ready != nullptr) status = ready(table);
    if (!status) return tl::unexpected(status.error());
    return table;
  }());
  if (!*loaded) return tl::unexpected(loaded->error());
  return &**loaded;
}

// For a table whose members are named as the functions, from a library's list `X(name)`: the
// member declaration, and its binding (inside the `bindAll` of loadOnce, whose parameters are
// library, table, status).
#define GATEHOUSE_DYNLIB_MEMBER(name) decltype(&::name) name = nullptr;
#define GATEHOUSE_DYNLIB_BIND(name) bind(library, #name, table.name, status);

}  // namespace gatehouse::dynlib
