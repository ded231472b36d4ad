// libFuzzer target for the direct reader of stored RSA keys (crypto::plainRsaPrivateKeyFromPem),
// checked against OpenSSL's own decoders: the input is the DER inside a PRIVATE KEY block, and a
// key the direct reader accepts must be the key OpenSSL reads from the same block, number for
// number. Either way OpenSSL's error queue is left as the reader found it. Built with clang
// (scripts/test.sh).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <openssl/err.h>

#include "crypto/pkey.hpp"
#include "support/pem_blocks.hpp"

namespace {

using namespace gatehouse;

bool sameNumbers(const crypto::RsaComponents& a, const crypto::RsaComponents& b) {
  return a.n == b.n && a.e == b.e && a.d == b.d && a.p == b.p && a.q == b.q && a.dp == b.dp &&
         a.dq == b.dq && a.qi == b.qi;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string pem = testing::pemBlock({reinterpret_cast<const char*>(data), size});
  // A caller's error already in the queue: the reader must leave it, and add nothing.
  ERR_clear_error();
  ERR_raise(ERR_LIB_USER, 1);
  const unsigned long sentinel = ERR_peek_error();
  const crypto::SharedPkey direct = crypto::plainRsaPrivateKeyFromPem(pem);
  if (ERR_peek_error() != sentinel || ERR_peek_last_error() != sentinel) std::abort();
  ERR_clear_error();
  if (!direct) return 0;
  const crypto::SharedPkey reference = testing::opensslReadPrivateKey(pem);
  ERR_clear_error();
  if (!reference) std::abort();  // accepted what OpenSSL refuses
  const auto got = crypto::rsaComponents(direct.get(), true);
  const auto want = crypto::rsaComponents(reference.get(), true);
  if (!got || !want || !sameNumbers(*got, *want)) std::abort();  // a different key
  return 0;
}
