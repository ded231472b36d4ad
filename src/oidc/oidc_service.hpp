#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/sessions.hpp"
#include "mfa/mfa_service.hpp"
#include "oidc/provider.hpp"
#include "state/once.hpp"
#include "store/store.hpp"

namespace gatehouse::oidc {

// The browser's half of the authorization-code flow (RFC 6749 §4.1 with PKCE S256, RFC 7636),
// OIDC Core §3.1. Thread-safe.
class OidcService {
 public:
  struct Settings {
    std::string
        public_url;  // our base URL; redirect_uri = <public_url>/api/v1/auth/oauth/<name>/callback
    // Where the browser lands: <frontend_url>/auth/callback#code=..., #mfa_token=... (a user
    // with a second factor) or #error=...
    std::string frontend_url;
    std::string cookie_key;  // 32 bytes for AES-256-GCM
    bool link_verified_email = true;
    // Asks users with a second factor for it after the provider; null refuses such users.
    mfa::MfaService* mfa = nullptr;
    // Told when a provider's identity is linked to an existing account by its verified address
    // (a new way in, which its owner hears of as of a passkey added); null: nobody.
    std::function<void(const store::User&, const auth::ClientInfo&)> linked;
    // OIDC_REQUIRE_CODE_CHALLENGE: every frontend start binds its code (the route refuses one
    // without a code_challenge), so no unbound code a frontend could be handed exists.
    bool require_frontend_challenge = false;
  };

  OidcService(std::vector<config::OidcProvider> providers, HttpClient& http, store::Store& store,
              auth::Sessions& sessions, audit::AuditLog& audit, const core::Clock& clock,
              state::OneTimeStore& once, Settings settings);

  bool hasProvider(const std::string& name) const { return providers_.contains(name); }
  bool requiresFrontendChallenge() const { return settings_.require_frontend_challenge; }
  // The configured providers' names, for the portal's buttons.
  std::vector<std::string> providerNames() const {
    std::vector<std::string> out;
    for (const auto& [name, provider] : providers_) out.push_back(name);
    return out;
  }

  // Who links an identity to their account (the account page's linking flow): the user, and the
  // session that began it, which must still be live when the provider sends the browser back.
  struct Linking {
    std::int64_t user_id = 0;
    std::string session_id;
  };
  // The most identities one account holds: the linking flow refuses more (a row per identity
  // controlled at a provider, shown on every visit of the account page).
  static constexpr std::int64_t kMaxIdentitiesPerUser = 10;

  // The provider's authorization URL and the sealed transaction for the cookie; Unavailable when
  // the provider cannot be reached.
  struct Start {
    std::string location;
    std::string cookie;
  };
  // `portal_return`: begun by the pages' portal (/ui/login), which signs the browser in itself
  // and then goes to this checked address. `frontend_challenge`: the frontend's S256 code
  // challenge (RFC 7636 §4.2, 43 characters of base64url, checked by isCodeChallenge), which
  // binds the one-time code to whoever holds its verifier (exchange). `link`: begun on the
  // account page, the identity is linked to that user instead of signing anyone in.
  [[nodiscard]] core::Result<Start> begin(const std::string& provider,
                                          std::optional<std::string> portal_return = {},
                                          std::optional<std::string> frontend_challenge = {},
                                          std::optional<Linking> link = {});
  // An S256 code challenge's form; a code verifier's (43 to 128 of [A-Za-z0-9-._~], RFC 7636 §4.1).
  static bool isCodeChallenge(std::string_view challenge);
  static bool isCodeVerifier(std::string_view verifier);

  // Everything the callback carried. Returns where to send the browser: the frontend with a
  // one-time code, or with a short error; details go to the audit log.
  struct Callback {
    std::map<std::string, std::string> params;  // code, state, iss, error
    std::optional<std::string> cookie;
    // The live session of the browser's sign-in cookies, when it has one: a linking must end in
    // the session that began it.
    std::string browser_session;
  };
  // Who began the transaction, as far as its sealed cookie tells (nothing when it does not open).
  struct Begun {
    std::optional<std::string> portal_return;  // the pages' portal, to this address
    bool linking = false;                      // the account page, linking an identity
  };
  // A linking ends at `#linked=<provider>` or `#error=<reason>` (the route shows the account page).
  std::string complete(const std::string& provider, const Callback& callback,
                       const auth::ClientInfo& client, Begun* begun = nullptr);
  // What a landing address from complete() carries: one of code, mfa_token, linked, error.
  struct Landing {
    std::string code;
    std::string mfa_token;
    std::string linked;
    std::string error;
  };
  Landing landingOf(std::string_view location) const;

  // Trades a one-time code (single use, 60 s, on every node) for the provider's proof of the
  // user (the route then starts a session, or asks for the second factor when the user has one
  // the provider did not vouch for): InvalidExchangeCode, AccountDisabled, Unavailable. A code
  // begun with a frontend challenge needs its verifier; a verifier given for a code begun without
  // one is refused too (the frontend that sends it began no such sign-in: someone else's code).
  [[nodiscard]] auth::Result<auth::SignedIn> exchange(
      const std::string& code, const auth::ClientInfo& client,
      const std::optional<std::string>& verifier = std::nullopt);

  // The user's linked identities.
  [[nodiscard]] auth::Result<std::vector<store::Identity>> identities(std::int64_t user_id);
  // Unlinks one of the user's identities: IdentityNotFound (also another user's),
  // LastSignInMethod when it is their only way to sign in; audited.
  [[nodiscard]] auth::Result<void> unlink(std::int64_t user_id, std::int64_t identity_id,
                                          const auth::ClientInfo& client);

  static constexpr std::string_view kCookieName = "gatehouse_oidc";
  // The most of a failure's detail kept in the log and the audit record.
  static constexpr std::size_t kMaxDetailBytes = 200;

 private:
  // The identity.linked record and the owner's notice, wherever an identity joins an account.
  void announceLinked(const store::User& user, const auth::ClientInfo& client,
                      boost::json::object detail);
  // The answer to a sign-in whose identity went between its look-up and its code or token.
  std::string identityWent(const std::string& name, const std::string& issuer,
                           const std::string& subject, std::int64_t user_id,
                           const auth::ClientInfo& client);
  std::string fail(const std::string& provider, const std::string& reason,
                   const std::string& detail, const auth::ClientInfo& client,
                   std::optional<std::int64_t> subject = std::nullopt);
  // The linking flow's end: the identity joins the user who began it (IdentityInUse,
  // TooManyIdentities and the ended session land as errors).
  std::string linkIdentity(const Provider& provider, const jose::Claims& claims,
                           const Linking& link, const std::string& browser_session,
                           const auth::ClientInfo& client);
  [[nodiscard]] core::Result<std::int64_t> resolveUser(const Provider& provider,
                                                       const jose::Claims& claims,
                                                       const auth::ClientInfo& client,
                                                       std::string& reason);
  std::string redirectUri(const std::string& provider) const;

  std::map<std::string, std::unique_ptr<Provider>> providers_;
  HttpClient& http_;
  store::Store& store_;
  auth::Sessions& sessions_;
  audit::AuditLog& audit_;
  const core::Clock& clock_;
  state::OneTimeStore& once_;  // seen states and one-time codes, by digest, on every node
  Settings settings_;
};

}  // namespace gatehouse::oidc
