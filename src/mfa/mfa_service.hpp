#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/client_info.hpp"
#include "auth/errors.hpp"
#include "auth/rate_check.hpp"
#include "auth/sessions.hpp"
#include "auth/user_cache.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "rbac/policy.hpp"
#include "state/once.hpp"
#include "store/store.hpp"

namespace gatehouse::mfa {

// A new TOTP factor, shown once: the secret (base32), its otpauth:// URI and the URI as a QR code.
struct Enrolment {
  std::int64_t id = 0;
  std::string secret;
  std::string otpauth_uri;
  std::string qr_svg;
};

struct Factors {
  std::vector<store::MfaFactor> confirmed;  // secrets stay sealed; never shown again
  std::int64_t recovery_codes_left = 0;
};

struct Settings {
  std::string issuer = "Gatehouse";                           // shown in authenticator apps
  config::RateLimit limit{5, std::chrono::seconds(15 * 60)};  // MFA_RATE_LIMIT per account
  std::string sealing_key;  // 32 bytes: AES-256-GCM over TOTP secrets at rest
  std::string code_key;     // 32 bytes: HMAC-SHA-256 key of recovery-code digests
  std::int64_t max_factors = 10;
  // MFA_LOCKOUT_THRESHOLD: codes tried in a row (no right one, no passkey between) that lock them.
  std::int64_t lockout_threshold = 100;
  // Told once per MFA_RATE_LIMIT window when an account's second-factor attempts first meet the
  // limit: that many in a row failed (a success clears the count), so whoever made them knows the
  // password. The server mails the owner (mail::Notice::SecondFactorFailures).
  std::function<void(const store::User&, const auth::ClientInfo&)> on_repeated_failures;
  // Told when wrong codes in a row met MFA_LOCKOUT_THRESHOLD and locked the account's codes. The
  // server mails the owner (mail::Notice::SecondFactorLocked).
  std::function<void(const store::User&, const auth::ClientInfo&)> on_codes_locked;
};

// The second factor (API.md, Second factor): TOTP factors (RFC 6238, SHA-1, 6 digits, 30 s,
// ±1 step, each step accepted once per factor on every node through the store's
// compare-and-set), ten single-use recovery codes, and the login's second step: a single-use
// `mfa_token` (five minutes, bound to the password step's user, scope and client) traded with a
// code for a session. Attempts count against MFA_RATE_LIMIT per account before they are checked
// and never against the password's counters; a success clears them. Codes (TOTP and recovery
// codes, the guessable ones) tried MFA_LOCKOUT_THRESHOLD times in a row without a right one are
// locked, in the database, until an administrator resets the second factor or the owner proves
// it with a passkey (a hard cap on guesses, NIST SP 800-63B §5.2.2; Keycloak's permanent
// lockout): a new password does not unlock them, since whoever reads the mailbox can set one.
// Secrets are sealed at rest and never logged. Runs on workers. Thread-safe.
class MfaService {
 public:
  struct Deps {
    store::Store& store;
    state::OneTimeStore& once;
    state::RateLimiter& limiter;
    auth::RateCheck& rates;
    const rbac::Policy& policy;
    auth::UserCache& users;  // told at once when a user's mfa_enabled changes
    audit::AuditLog& audit;
    metrics::Registry& metrics;
    const core::Clock& clock;
    Settings settings;
  };
  explicit MfaService(Deps deps) : d_(std::move(deps)) {}

  // A new, unconfirmed TOTP factor: FactorLimit when the user holds max_factors.
  [[nodiscard]] auth::Result<Enrolment> enrol(const store::User& user, std::string name,
                                              const auth::ClientInfo& client);
  // Activates the factor with its first code: the recovery codes when it is the user's first
  // factor, nullopt after. FactorNotFound (also another user's, or already confirmed),
  // WrongConfirmationCode.
  [[nodiscard]] auth::Result<std::optional<std::vector<std::string>>> confirm(
      const store::User& user, std::int64_t id, std::string_view code,
      const auth::ClientInfo& client);
  [[nodiscard]] auth::Result<Factors> list(std::int64_t user_id);
  // FactorNotFound unless the user's; true when it was confirmed (not an unfinished enrolment).
  [[nodiscard]] auth::Result<bool> remove(const store::User& user, std::int64_t id,
                                          const auth::ClientInfo& client);
  // Ten new recovery codes; the old ones die. FactorNotFound when the user has no factor.
  [[nodiscard]] auth::Result<std::vector<std::string>> newRecoveryCodes(
      const store::User& user, const auth::ClientInfo& client);
  // An administrator's (or the CLI's) reset: every factor and recovery code of the user; how
  // many confirmed factors went. `role_is`: the role the administrator's rights were judged
  // against, which the user must still have (Unavailable otherwise, nothing removed).
  [[nodiscard]] auth::Result<std::int64_t> reset(std::int64_t user_id,
                                                 std::optional<std::int64_t> actor,
                                                 const auth::ClientInfo& client,
                                                 std::optional<std::string> role_is = std::nullopt);

  // The login's pause after a right password for a user with a factor: the mfa_token.
  [[nodiscard]] auth::Result<std::string> challenge(const auth::SignedIn& who,
                                                    const auth::ClientInfo& client);
  // The second step: the sign-in, its amr ["pwd", "otp"|"rc"]. InvalidMfaCode for a wrong,
  // replayed or used code and for an unknown, used, expired or other client's mfa_token;
  // RateLimited.
  [[nodiscard]] auth::Result<auth::SignedIn> verify(std::string_view mfa_token,
                                                    std::string_view code,
                                                    const auth::ClientInfo& client);
  // The second step with another proof (a passkey): `prove` checks it for the token's user and
  // returns its amr method; its InvalidMfaCode or RateLimited leaves the token usable again, as a
  // mistyped code does. The proof is counted against MFA_RATE_LIMIT first.
  using Proof = std::function<auth::Result<std::string>(const store::User&)>;
  [[nodiscard]] auth::Result<auth::SignedIn> verifyWith(std::string_view mfa_token,
                                                        const auth::ClientInfo& client,
                                                        const Proof& prove);
  // The user an unexpired mfa_token is for, without spending it (to offer that user's passkeys).
  // InvalidMfaCode when unknown, used, expired or another client's.
  [[nodiscard]] auth::Result<store::User> pendingUser(std::string_view mfa_token,
                                                      const auth::ClientInfo& client);
  // What the login's 401 `MFA required` offers the user: "webauthn" with a passkey, "totp" with
  // a TOTP factor, and "recovery_code".
  [[nodiscard]] std::vector<std::string> methods(std::int64_t user_id);
  // Ten fresh recovery codes and their digests, for a first factor stored elsewhere (a passkey).
  [[nodiscard]] auth::Result<std::vector<std::string>> newCodes(std::int64_t user_id,
                                                                std::vector<std::string>& hashes) {
    return freshCodes(user_id, hashes);
  }
  // Counts a passkey's answer as a second factor against MFA_RATE_LIMIT per account and client
  // address (RateLimited): it cannot be guessed, and counted per account with the codes, whoever
  // holds the password kept the owner's passkey out with wrong codes (found by an outside attack).
  [[nodiscard]] auth::Result<void> countPasskeyAttempt(const store::User& user,
                                                       const auth::ClientInfo& client);
  // A passkey proved the owner: the counts above start again, and so does the codes' count
  // (MFA_LOCKOUT_THRESHOLD: locked codes unlock).
  void passkeySucceeded(const store::User& user, const auth::ClientInfo& client);
  // A code (TOTP or recovery), also from a signed-in user (reauthentication, password change):
  // the method it proved, "otp" or "rc". InvalidMfaCode (also while the codes are locked),
  // RateLimited.
  [[nodiscard]] auth::Result<std::string> check(const store::User& user, std::string_view code,
                                                const auth::ClientInfo& client);

 private:
  // A pending sign-in's state (the mfa_token's value), checked: its client (another client is
  // audited when `spending`), its user still active and unchanged since the first step.
  struct Pending {
    store::User user;
    boost::json::object state;
    std::int64_t expires = 0;
  };
  [[nodiscard]] auth::Result<Pending> openPending(const std::string& state,
                                                  const auth::ClientInfo& client, bool spending);
  [[nodiscard]] auth::Result<std::vector<std::string>> freshCodes(std::int64_t user_id,
                                                                  std::vector<std::string>& hashes);
  // Counts one code of the user against MFA_RATE_LIMIT (RateLimited).
  [[nodiscard]] auth::Result<void> countAttempt(const store::User& user,
                                                const auth::ClientInfo& client);
  // check() past its counters: the code against the user's factors and recovery codes.
  [[nodiscard]] auth::Result<std::string> matchCode(const store::User& user, std::string_view code,
                                                    const auth::ClientInfo& client);
  // A refused code, counted and recorded as mfa.failed with `reason`: InvalidMfaCode.
  [[nodiscard]] auth::Result<std::string> wrongCode(const store::User& user,
                                                    const auth::ClientInfo& client,
                                                    const char* reason);
  // The owner proved the second factor: the codes' count starts again (a failure is logged: the
  // proof stands, and the count errs on the side of the cap).
  void clearCodeCount(std::int64_t user_id, const auth::ClientInfo& client);
  // The attempt that met MFA_LOCKOUT_THRESHOLD was wrong: the codes are locked; recorded, told.
  void codesLocked(const store::User& user, const auth::ClientInfo& client);
  std::string codeHash(std::int64_t user_id, std::string_view code) const;
  std::optional<std::string> openSecret(const store::MfaFactor& factor) const;
  void record(std::string type, const auth::ClientInfo& client, std::optional<std::int64_t> actor,
              std::int64_t subject, boost::json::object detail = {});

  Deps d_;
};

}  // namespace gatehouse::mfa
