#pragma once

#include <qrencode.h>

#include "core/error.hpp"
#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

// The functions of libqrencode Gatehouse calls (the QR code of a TOTP enrolment), one list (see
// libpq.hpp).
#define GATEHOUSE_LIBQRENCODE_FUNCTIONS(X) X(QRcode_encodeData) X(QRcode_free)

// libqrencode's functions, named as in qrencode.h: `qr.QRcode_encodeData(n, data, 0, level)`.
struct LibQrencode {
  GATEHOUSE_LIBQRENCODE_FUNCTIONS(GATEHOUSE_DYNLIB_MEMBER)
};

// libqrencode.so.4, loaded on the first QR code (thread-safe; a failure is kept, not retried):
// every start saves mapping it and the libpthread it needs, for a page or answer drawn once per
// enrolment. Unlike the libraries a setting asks for, it is not loaded at start (every server
// may enrol a factor): a missing one (Debian: libqrencode4, which the package depends on) fails
// that enrolment with the loader's reason in the log.
[[nodiscard]] core::Result<const LibQrencode*> libqrencode();

}  // namespace gatehouse::dynlib
