#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "webauthn/attestation.hpp"
#include "webauthn/cose.hpp"

namespace gatehouse::webauthn {

constexpr std::size_t kMaxClientDataBytes = 8 * 1024;
constexpr std::size_t kMaxAttestationObjectBytes = 16 * 1024;
constexpr std::size_t kMaxSignatureBytes = 1024;

// The relying party's fixed facts (configuration).
struct RelyingParty {
  std::string rp_id;                     // WEBAUTHN_RP_ID
  std::vector<std::string> origins;      // WEBAUTHN_ORIGINS: exact origins
  std::vector<std::string> top_origins;  // pages that may frame a ceremony; empty: none may
  AttestationPolicy attestation = AttestationPolicy::None;
  TrustStore trust;  // WEBAUTHN_TRUST_STORE
  std::vector<CoseAlg> algorithms = supportedAlgs();
};

// What one ceremony expects beyond the relying party's facts.
struct Expectation {
  std::string challenge;           // the bytes the options carried
  bool user_verification = false;  // UV required
};

// A verified registration (§7.1), to be stored.
struct NewCredential {
  std::string credential_id;
  std::string public_key;  // COSE_Key CBOR bytes
  CoseAlg alg = CoseAlg::ES256;
  std::uint32_t sign_count = 0;
  std::string aaguid;
  bool user_verified = false;
  bool backup_eligible = false;
  bool backed_up = false;
  AttestationResult attestation;
};

// The parts of a stored credential an assertion is checked against.
struct StoredCredential {
  std::string public_key;  // COSE_Key CBOR bytes
  std::uint32_t sign_count = 0;
  bool backup_eligible = false;
};

// A verified assertion (§7.2): what to record.
struct Assertion {
  std::uint32_t sign_count = 0;
  bool user_verified = false;
  bool backed_up = false;
};

// Why a ceremony failed, for the audit trail; the network only ever hears a generic refusal.
enum class Refusal {
  Malformed,       // undecodable input
  Ceremony,        // type, challenge, origin, rpIdHash or flags wrong
  Signature,       // a signature that does not verify
  Attestation,     // the statement does not verify or is not trusted
  CounterRegress,  // a signature counter that did not grow: a cloned authenticator
};

struct Failure {
  Refusal refusal = Refusal::Malformed;
  std::string detail;
};

template <typename T>
using Verified = tl::expected<T, Failure>;

// The registration ceremony's checks (§7.1 steps 5-25) on the response's clientDataJSON and
// attestationObject (raw bytes, already base64url-decoded).
[[nodiscard]] Verified<NewCredential> verifyRegistration(const RelyingParty& rp,
                                                         const Expectation& expect,
                                                         std::string_view client_data_json,
                                                         std::string_view attestation_object);

// The authentication ceremony's checks (§7.2 steps 8-23) on clientDataJSON, authenticatorData
// and signature against the stored credential. The caller has matched the credential id and
// user handle.
[[nodiscard]] Verified<Assertion> verifyAssertion(const RelyingParty& rp, const Expectation& expect,
                                                  const StoredCredential& stored,
                                                  std::string_view client_data_json,
                                                  std::string_view authenticator_data,
                                                  std::string_view signature);

// The challenge a clientDataJSON carries (decoded), without checking anything else: how a
// ceremony finds the state it belongs to. nullopt when there is none.
std::optional<std::string> challengeOf(std::string_view client_data_json);

}  // namespace gatehouse::webauthn
