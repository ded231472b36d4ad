#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::keyring {

// Every key derived from the master secret (never rotated, the same on every node), one per
// purpose: no key serves two, and a signing-key rotation signs nobody out nor ends a sign-in
// under way. The derivation's labels are part of the stored data's format: a changed label no
// longer opens what was sealed, or checks what was keyed, under the old one.
struct PurposeKeys {
  std::string oidc_transaction_cookie;  // external sign-in's state cookie
  std::string mfa_sealing;              // TOTP secrets at rest
  std::string mfa_recovery_codes;       // recovery codes' keyed hashes
  std::string outbox_sealing;           // queued messages' bodies at rest
  std::string email_tokens;             // emailed links' tokens
  std::string browser_session_cookie;   // the pages' session cookie
  std::string csrf_tokens;              // the pages' forms
  std::string op_key_sealing;           // the OpenID Provider's signing key at rest
  std::string op_client_secrets;        // OpenID Provider client secrets' keyed hashes
  std::string op_authorization_codes;   // OpenID Provider authorization codes
  std::string webauthn_challenges;      // passkey ceremonies' challenges
  std::string webauthn_user_handles;    // passkeys' user handles
  std::string audit_chain;              // the audit records' keyed hashes
};

[[nodiscard]] core::Result<PurposeKeys> derivePurposeKeys(std::string_view master);

// The keys the command line needs on their own (`gatehouse client create|rotate-secret`; every
// command that writes or checks the audit log).
[[nodiscard]] core::Result<std::string> opClientSecretKey(std::string_view master);
[[nodiscard]] core::Result<std::string> auditChainKey(std::string_view master);

}  // namespace gatehouse::keyring
