#include "webauthn/attestation.hpp"

#include <vector>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/files.hpp"
#include "crypto/pem_certificates.hpp"

namespace gatehouse::webauthn {
namespace {

constexpr std::size_t kMaxCertificates = 5;
constexpr std::size_t kMaxCertificateBytes = 4096;
// id-fido-gen-ce-aaguid (§8.2.1)
constexpr const char* kAaguidOid = "1.3.6.1.4.1.45724.1.1.4";

core::Error invalid(std::string why) {
  return core::Error{core::Errc::InvalidArgument, "attestation: " + std::move(why)};
}

struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::optional<std::string> subjectEntry(X509_NAME* name, int nid) {
  const int at = X509_NAME_get_index_by_NID(name, nid, -1);
  if (at < 0) return std::nullopt;
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

// §8.2.1: version 3; subject C, O, OU "Authenticator Attestation" and CN; not a CA; an AAGUID
// extension, when present, not critical and equal to the authenticator data's.
core::Result<void> checkCertificate(X509* cert, std::string_view aaguid) {
  if (X509_get_version(cert) != 2) return tl::unexpected(invalid("certificate is not version 3"));
  X509_NAME* subject = X509_get_subject_name(cert);
  const auto ou = subjectEntry(subject, NID_organizationalUnitName);
  if (!subjectEntry(subject, NID_countryName) || !subjectEntry(subject, NID_organizationName) ||
      !subjectEntry(subject, NID_commonName) || ou != "Authenticator Attestation")
    return tl::unexpected(invalid("certificate subject lacks C, O, OU or CN"));
  if ((X509_get_extension_flags(cert) & EXFLAG_CA) != 0)
    return tl::unexpected(invalid("certificate is a CA"));
  ASN1_OBJECT* oid = OBJ_txt2obj(kAaguidOid, 1);
  const int at = oid != nullptr ? X509_get_ext_by_OBJ(cert, oid, -1) : -1;
  ASN1_OBJECT_free(oid);
  if (at >= 0) {
    X509_EXTENSION* ext = X509_get_ext(cert, at);
    if (X509_EXTENSION_get_critical(ext) != 0)
      return tl::unexpected(invalid("AAGUID extension marked critical"));
    // The extension's value is an OCTET STRING holding the 16-byte AAGUID.
    const ASN1_OCTET_STRING* outer = X509_EXTENSION_get_data(ext);
    const unsigned char* p = ASN1_STRING_get0_data(outer);
    ASN1_OCTET_STRING* inner = d2i_ASN1_OCTET_STRING(nullptr, &p, ASN1_STRING_length(outer));
    const bool same =
        inner != nullptr &&
        std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(inner)),
                         static_cast<std::size_t>(ASN1_STRING_length(inner))) == aaguid;
    ASN1_OCTET_STRING_free(inner);
    if (!same) return tl::unexpected(invalid("AAGUID extension does not match"));
  }
  return {};
}

core::Result<void> verifyChain(const std::vector<X509Ptr>& certs, const TrustStore& trust) {
  if (!trust) return tl::unexpected(invalid("no trust store configured"));
  STACK_OF(X509)* chain = sk_X509_new_null();
  if (chain == nullptr) return tl::unexpected(invalid("out of memory"));
  for (std::size_t i = 1; i < certs.size(); ++i) sk_X509_push(chain, certs[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  bool ok = ctx != nullptr && X509_STORE_CTX_init(ctx, trust.get(), certs[0].get(), chain) == 1 &&
            X509_verify_cert(ctx) == 1;
  const int err = ctx != nullptr ? X509_STORE_CTX_get_error(ctx) : 0;
  X509_STORE_CTX_free(ctx);
  sk_X509_free(chain);  // the certificates stay owned by `certs`
  if (!ok)
    return tl::unexpected(
        invalid(std::string("chain not trusted: ") + X509_verify_cert_error_string(err)));
  return {};
}

}  // namespace

core::Result<TrustStore> trustStoreFromPem(std::string_view pem) {
  // Every block must parse: one that does not would otherwise end the reading there, the roots
  // after it left out.
  auto certificates = crypto::pemCertificates(pem);
  if (!certificates)
    return tl::unexpected(invalid("the trust store " + certificates.error().message));
  TrustStore store(X509_STORE_new(), X509_STORE_free);
  if (!store) return tl::unexpected(invalid("out of memory"));
  for (const auto& certificate : *certificates)
    if (X509_STORE_add_cert(store.get(), certificate.get()) != 1)
      return tl::unexpected(invalid("the trust store could not take a certificate"));
  return store;
}

core::Result<TrustStore> loadTrustStore(const std::string& pem_path) {
  auto text = core::readSmallFile(pem_path, crypto::kMaxPemBundleBytes);
  if (!text) return tl::unexpected(invalid(text.error().message));
  return trustStoreFromPem(*text);
}

core::Result<AttestationResult> verifyAttestation(
    std::string_view fmt, const cbor::Value& att_stmt, std::string_view auth_data_bytes,
    const AuthenticatorData& auth_data, const CoseKey& credential_key,
    std::string_view client_data_hash, AttestationPolicy policy, const TrustStore& trust) {
  const cbor::Map* stmt = att_stmt.map();
  if (stmt == nullptr) return tl::unexpected(invalid("attStmt is not a map"));
  if (fmt == "none") {
    if (!stmt->empty()) return tl::unexpected(invalid("none with a statement"));
    if (policy == AttestationPolicy::Direct)
      return tl::unexpected(invalid("attestation required, none given"));
    return AttestationResult{"none", "none", false};
  }
  if (fmt != "packed") return tl::unexpected(invalid("unsupported format"));

  const cbor::Value* alg_v = att_stmt.at("alg");
  const cbor::Value* sig_v = att_stmt.at("sig");
  const cbor::Value* x5c_v = att_stmt.at("x5c");
  for (const auto& [k, v] : *stmt) {
    const std::string* name = k.text();
    if (name == nullptr || (*name != "alg" && *name != "sig" && *name != "x5c"))
      return tl::unexpected(invalid("packed statement with an unknown member"));
  }
  if (alg_v == nullptr || alg_v->integer() == nullptr || sig_v == nullptr ||
      sig_v->bytes() == nullptr)
    return tl::unexpected(invalid("packed statement without alg or sig"));
  const auto alg = coseAlgFrom(*alg_v->integer());
  if (!alg) return tl::unexpected(invalid("unsupported statement alg"));
  std::string signed_data(auth_data_bytes);
  signed_data += client_data_hash;

  if (x5c_v == nullptr) {
    // Self attestation: the credential's own key, with its own algorithm.
    if (policy == AttestationPolicy::Direct)
      return tl::unexpected(invalid("attestation required, self attestation given"));
    if (*alg != credential_key.alg) return tl::unexpected(invalid("self attestation alg mismatch"));
    if (!verifySignature(credential_key, signed_data, *sig_v->bytes()))
      return tl::unexpected(invalid("self attestation signature invalid"));
    return AttestationResult{"packed", "self", false};
  }

  const cbor::Array* x5c = x5c_v->array();
  if (x5c == nullptr || x5c->empty() || x5c->size() > kMaxCertificates)
    return tl::unexpected(invalid("x5c is not a list of 1 to 5 certificates"));
  std::vector<X509Ptr> certs;
  for (const auto& item : *x5c) {
    const std::string* der = item.bytes();
    if (der == nullptr || der->size() > kMaxCertificateBytes)
      return tl::unexpected(invalid("x5c entry is not a certificate"));
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der->size()));
    if (cert == nullptr || p != reinterpret_cast<const unsigned char*>(der->data()) + der->size()) {
      X509_free(cert);
      ERR_clear_error();
      return tl::unexpected(invalid("x5c entry does not parse"));
    }
    certs.emplace_back(cert);
  }
  EVP_PKEY* leaf_key = X509_get0_pubkey(certs.front().get());
  if (leaf_key == nullptr || !verifyWithPkey(leaf_key, *alg, signed_data, *sig_v->bytes()))
    return tl::unexpected(invalid("attestation signature invalid"));
  const std::string aaguid = auth_data.attested ? auth_data.attested->aaguid : std::string();
  if (auto ok = checkCertificate(certs.front().get(), aaguid); !ok)
    return tl::unexpected(ok.error());
  bool trusted = false;
  if (trust) {
    auto chain = verifyChain(certs, trust);
    if (!chain && policy == AttestationPolicy::Direct) return tl::unexpected(chain.error());
    trusted = chain.has_value();
  } else if (policy == AttestationPolicy::Direct) {
    return tl::unexpected(invalid("no trust store configured"));
  }
  return AttestationResult{"packed", "basic", trusted};
}

}  // namespace gatehouse::webauthn
