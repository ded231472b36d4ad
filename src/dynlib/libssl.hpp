#pragma once

#include <openssl/ssl.h>

#include "core/error.hpp"
#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

// The functions of libssl Gatehouse calls (TLS to Redis for rediss:// only; everything else uses
// libcrypto, which stays linked), one list (see libpq.hpp). SSL_CTX_set_min_proto_version and
// SSL_set_tlsext_host_name are macros over SSL_CTX_ctrl and SSL_ctrl.
// clang-format off
#define GATEHOUSE_LIBSSL_FUNCTIONS(X)                                                    \
  X(TLS_client_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_ctrl)                    \
  X(SSL_CTX_set_verify) X(SSL_CTX_set_default_verify_paths)                              \
  X(SSL_CTX_load_verify_locations) X(SSL_new) X(SSL_free) X(SSL_get0_param)              \
  X(SSL_set1_host) X(SSL_ctrl) X(SSL_set_fd) X(SSL_connect) X(SSL_get_verify_result)     \
  X(SSL_shutdown) X(SSL_write) X(SSL_read) X(SSL_pending)
// clang-format on

// libssl's functions, named as in ssl.h: `tls.SSL_read(ssl, buf, n)`.
struct LibSsl {
  GATEHOUSE_LIBSSL_FUNCTIONS(GATEHOUSE_DYNLIB_MEMBER)
};

// libssl.so.3, loaded on the first call (thread-safe; a failure is kept, not retried): a server
// without a rediss:// URL never loads it. Unavailable with the loader's reason when it is not
// installed (Debian: libssl3, which also holds the libcrypto Gatehouse links).
[[nodiscard]] core::Result<const LibSsl*> libssl();

}  // namespace gatehouse::dynlib
