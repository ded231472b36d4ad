#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <openssl/x509.h>

#include "core/error.hpp"
#include "webauthn/authenticator_data.hpp"
#include "webauthn/cbor.hpp"
#include "webauthn/cose.hpp"

namespace gatehouse::webauthn {

// What the relying party asks of attestation (WEBAUTHN_ATTESTATION).
enum class AttestationPolicy {
  None,    // any authenticator; `none` and `packed` statements are still checked when sent
  Direct,  // only `packed` with an x5c chain ending in the trust store
};

using TrustStore = std::shared_ptr<X509_STORE>;
// The attestation roots of a PEM file. InvalidArgument when it holds no certificate or cannot be
// read.
[[nodiscard]] core::Result<TrustStore> loadTrustStore(const std::string& pem_path);
// The same from PEM text (tests).
[[nodiscard]] core::Result<TrustStore> trustStoreFromPem(std::string_view pem);

struct AttestationResult {
  std::string fmt;       // "none" or "packed"
  std::string type;      // "none", "self" or "basic" (x5c)
  bool trusted = false;  // the x5c chain ended in the trust store
};

// Verifies an attestation statement (§8.2 packed: self and x5c with §8.2.1's certificate
// requirements and the AAGUID extension; §8.7 none) over `auth_data_bytes || client_data_hash`.
// Under Direct the statement must be x5c and its chain verify against `trust`. InvalidArgument
// naming the problem; formats other than none and packed are refused.
[[nodiscard]] core::Result<AttestationResult> verifyAttestation(
    std::string_view fmt, const cbor::Value& att_stmt, std::string_view auth_data_bytes,
    const AuthenticatorData& auth_data, const CoseKey& credential_key,
    std::string_view client_data_hash, AttestationPolicy policy, const TrustStore& trust);

}  // namespace gatehouse::webauthn
