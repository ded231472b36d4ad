#include "crypto/pem_certificates.hpp"

#include <climits>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace gatehouse::crypto {

void X509Free::operator()(X509* certificate) const { X509_free(certificate); }

core::Result<std::vector<Certificate>> pemCertificates(std::string_view pem) {
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
  std::vector<Certificate> out;
  for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
    X509_INFO* info = sk_X509_INFO_value(infos, i);
    if (info->x509 == nullptr) continue;
    Certificate certificate(info->x509);
    info->x509 = nullptr;  // owned here now
    out.push_back(std::move(certificate));
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  if (out.empty()) return core::makeError(core::Errc::InvalidArgument, "holds no PEM certificate");
  return out;
}

core::Result<std::size_t> pemCertificateCount(std::string_view pem) {
  auto certificates = pemCertificates(pem);
  if (!certificates) return tl::unexpected(certificates.error());
  return certificates->size();
}

}  // namespace gatehouse::crypto
