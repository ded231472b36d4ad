#include "keyring/purposes.hpp"

#include <utility>

#include "crypto/aead.hpp"

namespace gatehouse::keyring {
namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr std::string_view kOpClientSecrets = "gatehouse op client secrets v1";
constexpr std::string_view kAuditChain = "gatehouse audit chain v1";

// The labels, written once: distinct, and never changed (a "v2" is a new purpose).
constexpr std::pair<std::string PurposeKeys::*, std::string_view> kPurposes[] = {
    {&PurposeKeys::oidc_transaction_cookie, "gatehouse oidc transaction cookie v2"},
    {&PurposeKeys::mfa_sealing, "gatehouse mfa secret sealing v1"},
    {&PurposeKeys::mfa_recovery_codes, "gatehouse mfa recovery codes v1"},
    {&PurposeKeys::outbox_sealing, "gatehouse outbox sealing v1"},
    {&PurposeKeys::email_tokens, "gatehouse email tokens v1"},
    {&PurposeKeys::browser_session_cookie, "gatehouse browser session cookie v1"},
    {&PurposeKeys::csrf_tokens, "gatehouse csrf tokens v1"},
    {&PurposeKeys::op_key_sealing, "gatehouse op signing key sealing v1"},
    {&PurposeKeys::op_client_secrets, kOpClientSecrets},
    {&PurposeKeys::op_authorization_codes, "gatehouse op authorization codes v1"},
    {&PurposeKeys::webauthn_challenges, "gatehouse webauthn challenges v1"},
    {&PurposeKeys::webauthn_user_handles, "gatehouse webauthn user handles v1"},
    {&PurposeKeys::audit_chain, kAuditChain},
};

}  // namespace

core::Result<PurposeKeys> derivePurposeKeys(std::string_view master) {
  PurposeKeys keys;
  for (const auto& [member, label] : kPurposes) {
    auto key = crypto::hkdf(master, label, kKeyBytes);
    if (!key) return tl::unexpected(key.error());
    keys.*member = std::move(*key);
  }
  return keys;
}

core::Result<std::string> opClientSecretKey(std::string_view master) {
  return crypto::hkdf(master, kOpClientSecrets, kKeyBytes);
}

core::Result<std::string> auditChainKey(std::string_view master) {
  return crypto::hkdf(master, kAuditChain, kKeyBytes);
}

}  // namespace gatehouse::keyring
