#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "audit/audit_log.hpp"
#include "auth/client_info.hpp"
#include "auth/errors.hpp"
#include "auth/sessions.hpp"
#include "auth/user_cache.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "mfa/mfa_service.hpp"
#include "rbac/policy.hpp"
#include "state/once.hpp"
#include "store/store.hpp"
#include "webauthn/relying_party.hpp"

namespace gatehouse::webauthn {

// What a ceremony is for; a challenge made for one is refused by every other.
enum class Ceremony { Register, Login, SecondFactor, Reauthenticate };

enum class UserVerification { Required, Preferred, Discouraged };

struct PasskeySettings {
  RelyingParty rp;
  std::string rp_name = "Gatehouse";
  // 32 bytes each, the same on every node (derived from MFA_SECRET_KEY): the MAC of the
  // stateless challenges, and the user handles' key.
  std::string challenge_key;
  std::string handle_key;
  UserVerification second_factor_uv = UserVerification::Preferred;  // WEBAUTHN_USER_VERIFICATION
  std::int64_t max_factors = 10;
  std::int64_t timeout_seconds = 300;
  bool email_verification_required = false;
};

// A registered passkey as stored, read back.
struct Passkey {
  store::MfaFactor factor;
  boost::json::object record;  // the stored record (public key, alg, aaguid, flags, transports)
};

struct Registered {
  Passkey passkey;
  std::optional<std::vector<std::string>> recovery_codes;  // with the user's first factor
};

// Passkeys (WebAuthn Level 3) on the relying-party verifier: options for each ceremony with a
// challenge that is single use on every node (stateless until used: 16 random bytes, its expiry
// and a MAC over the ceremony and what it is bound to, so an options flood stores nothing; the
// first presentation is remembered in the one-time store until it would expire), registration
// as a confirmed second factor, usernameless sign-in, the login's second step and step-up
// reauthentication. Refusals are audited with their reason and answered generically. Thread-safe.
class PasskeyService {
 public:
  struct Deps {
    store::Store& store;
    state::OneTimeStore& once;
    mfa::MfaService& mfa;
    auth::UserCache& users;
    const rbac::Policy& policy;
    audit::AuditLog& audit;
    metrics::Registry& metrics;
    const core::Clock& clock;
    PasskeySettings settings;
  };
  explicit PasskeyService(Deps deps) : d_(std::move(deps)) {}

  // PublicKeyCredentialCreationOptionsJSON for the user, bound to their session `sid`;
  // FactorLimit when the user already holds as many confirmed factors as allowed.
  [[nodiscard]] auth::Result<boost::json::object> registrationOptions(const store::User& user,
                                                                      std::string_view sid);
  // PasskeyRejected (any failed check, a credential id already registered), FactorLimit.
  [[nodiscard]] auth::Result<Registered> registerPasskey(const store::User& user,
                                                         std::string_view sid, std::string name,
                                                         const boost::json::value& credential,
                                                         const auth::ClientInfo& client);
  // Usernameless: no allowCredentials, user verification required.
  [[nodiscard]] auth::Result<boost::json::object> loginOptions();
  // InvalidPasskey, AccountDisabled, EmailNotVerified. amr ["hwk"] or ["swk"].
  [[nodiscard]] auth::Result<auth::SignedIn> login(const boost::json::value& credential,
                                                   const auth::ClientInfo& client);
  // The pending sign-in's user's passkeys. InvalidMfaCode for a bad mfa_token or a user with no
  // passkey.
  [[nodiscard]] auth::Result<boost::json::object> secondFactorOptions(
      std::string_view mfa_token, const auth::ClientInfo& client);
  // The login's second step with a passkey: amr ["pwd" (or "ext"), "hwk"|"swk"].
  [[nodiscard]] auth::Result<auth::SignedIn> secondFactor(std::string_view mfa_token,
                                                          const boost::json::value& credential,
                                                          const auth::ClientInfo& client);
  // FactorNotFound when the user has no passkey.
  [[nodiscard]] auth::Result<boost::json::object> reauthenticationOptions(const store::User& user,
                                                                          std::string_view sid);
  // A fresh proof for step-up: InvalidPasskey. The caller ends the presenting session.
  [[nodiscard]] auth::Result<auth::SignedIn> reauthenticate(const auth::Principal& who,
                                                            std::string_view sid,
                                                            const boost::json::value& credential,
                                                            const auth::ClientInfo& client);

  [[nodiscard]] auth::Result<std::vector<Passkey>> list(std::int64_t user_id);
  // FactorNotFound unless it is the user's passkey.
  [[nodiscard]] auth::Result<Passkey> rename(const store::User& user, std::int64_t id,
                                             std::string name, const auth::ClientInfo& client);
  [[nodiscard]] auth::Result<void> remove(const store::User& user, std::int64_t id,
                                          const auth::ClientInfo& client);

  // The user handle of the options (opaque: no name or id readable from it).
  std::string userHandle(std::int64_t user_id) const;
  const PasskeySettings& settings() const { return d_.settings; }

 private:
  struct Checked;
  // The MAC over a challenge's body, bound to its ceremony and to `binding` (the user or the
  // session): one definition for the challenge made and the one presented.
  [[nodiscard]] core::Result<std::string> challengeMac(Ceremony ceremony, std::string_view binding,
                                                       std::string_view body) const;
  [[nodiscard]] auth::Result<std::string> newChallenge(Ceremony ceremony,
                                                       std::string_view binding) const;
  [[nodiscard]] auth::Result<void> spendChallenge(std::string_view client_data_json,
                                                  Ceremony ceremony, std::string_view binding,
                                                  std::string& challenge);
  [[nodiscard]] auth::Result<boost::json::object> requestOptions(Ceremony ceremony,
                                                                 std::string_view binding,
                                                                 const std::vector<Passkey>& allow,
                                                                 bool user_verification);
  // FactorNotFound unless factor `id` is one of the user's passkeys.
  [[nodiscard]] auth::Result<Passkey> ownPasskey(const store::User& user, std::int64_t id);
  // The assertion checks common to sign-in, second factor and reauthentication: the credential
  // must be one of `owner`'s (any user's when nullopt), the counter grow; the passkey used.
  [[nodiscard]] auth::Result<Passkey> assertWith(const boost::json::value& credential,
                                                 Ceremony ceremony, std::string_view binding,
                                                 std::optional<std::int64_t> owner,
                                                 bool user_verification,
                                                 const auth::ClientInfo& client,
                                                 auth::Errc refusal);
  void record(std::string type, const auth::ClientInfo& client, std::optional<std::int64_t> actor,
              std::optional<std::int64_t> subject, boost::json::object detail = {});

  Deps d_;
};

// A stored factor of type "webauthn" with its record read (empty when unreadable).
Passkey passkeyOf(store::MfaFactor factor);
// Backup eligible: the key may leave the authenticator (a synced passkey).
bool canSync(const Passkey& passkey);
// RFC 8176 method of a passkey: "hwk" when device-bound (backup eligibility clear) and attested
// by a root of the trust store, else "swk" (synced, or nothing proves the hardware).
std::string_view amrOf(const Passkey& passkey);
// The API's Passkey object.
boost::json::object passkeyJson(const Passkey& passkey);

}  // namespace gatehouse::webauthn
