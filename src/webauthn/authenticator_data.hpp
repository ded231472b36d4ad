#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "webauthn/cbor.hpp"

namespace gatehouse::webauthn {

// The attested credential data of a registration (§6.5.2).
struct AttestedCredential {
  std::string aaguid;         // 16 bytes
  std::string credential_id;  // 1..1023 bytes
  std::string public_key;     // the COSE_Key's CBOR bytes, exactly as the authenticator sent them
  cbor::Value public_key_map;
};

// Authenticator data (§6.1): its bytes as signed, and what they say.
struct AuthenticatorData {
  std::string rp_id_hash;  // 32 bytes
  bool user_present = false;
  bool user_verified = false;
  bool backup_eligible = false;
  bool backed_up = false;
  std::uint32_t sign_count = 0;
  std::optional<AttestedCredential> attested;  // AT flag
  std::optional<cbor::Value> extensions;       // ED flag
};

constexpr std::size_t kMaxCredentialIdBytes = 1023;
constexpr std::size_t kMaxAuthenticatorDataBytes = 4096;

// Parses strictly: the attested credential data exactly when AT is set, extensions exactly when
// ED is set, nothing after them, BS only with BE (§6.1.3), reserved flag bits ignored as the
// specification says. InvalidArgument naming the first problem.
[[nodiscard]] core::Result<AuthenticatorData> parseAuthenticatorData(std::string_view bytes);

}  // namespace gatehouse::webauthn
