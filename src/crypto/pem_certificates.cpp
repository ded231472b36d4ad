#include "crypto/pem_certificates.hpp"

#include <climits>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace gatehouse::crypto {

core::Result<std::size_t> pemCertificateCount(std::string_view pem) {
  if (pem.size() > static_cast<std::size_t>(INT_MAX))
    return core::makeError(core::Errc::InvalidArgument, "is too large");
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return core::makeError(core::Errc::Internal, "out of memory");
  // The reader behind X509_load_cert_crl_file: every block it knows (certificates, CRLs, keys)
  // must parse, or the loaders refuse the whole file.
  STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (infos == nullptr)
    return core::makeError(core::Errc::InvalidArgument, "holds a PEM block that does not parse");
  std::size_t count = 0;
  for (int i = 0; i < sk_X509_INFO_num(infos); ++i)
    count += sk_X509_INFO_value(infos, i)->x509 != nullptr ? 1 : 0;
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  if (count == 0) return core::makeError(core::Errc::InvalidArgument, "holds no PEM certificate");
  return count;
}

}  // namespace gatehouse::crypto
