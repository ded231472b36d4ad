#include "crypto/random.hpp"

#include <limits>

#include <openssl/rand.h>

#include "core/base64url.hpp"
#include "crypto/openssl.hpp"

namespace gatehouse::crypto {

core::Result<std::string> randomBytes(std::size_t n) {
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return core::makeError(core::Errc::InvalidArgument, "random request too large");
  }
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return core::makeError(core::Errc::Internal, "RAND_bytes failed: " + lastOpensslError());
  }
  return out;
}

core::Result<std::string> randomToken(std::size_t n) {
  return randomBytes(n).transform([](const std::string& b) { return core::base64urlEncode(b); });
}

}  // namespace gatehouse::crypto
