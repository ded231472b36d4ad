#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "audit/audit_log.hpp"
#include "auth/client_info.hpp"
#include "auth/principal.hpp"
#include "auth/revocations.hpp"
#include "auth/session_end.hpp"
#include "auth/token_check.hpp"
#include "core/clock.hpp"
#include "op/clients.hpp"
#include "op/errors.hpp"
#include "op/op_tokens.hpp"
#include "store/store.hpp"

namespace gatehouse::op {

// A parameter of a request (query or form), nullopt when absent.
using ParamLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The authorization request's parameters as sent (OIDC Core §3.1.2.1); unknown ones are ignored.
struct AuthorizeRequest {
  std::optional<std::string> client_id, redirect_uri, response_type, response_mode, scope, state,
      nonce, code_challenge, code_challenge_method, prompt, max_age, login_hint, id_token_hint;
  bool has_request = false;                // a request object (refused: request_not_supported)
  bool has_request_uri = false;            // refused: request_uri_not_supported
  std::optional<std::string> login_after;  // ours: a sign-in asked by prompt=login began then
  // Ours: "<sub>~<when>.<keyed MAC>" standing for a valid id_token_hint of the same client
  // (Provider::sealHint), so that the ID token itself never goes into a URL of ours.
  std::optional<std::string> hint_sub;
};
AuthorizeRequest parseAuthorize(const ParamLookup& param);
// The request as query parameters, without `prompt` when `drop_prompt` (the portal's return
// address after the sign-in that prompt=login asked for) and with `login_after` (a
// Provider::loginAfterMarker) when not empty.
std::vector<std::pair<std::string, std::string>> authorizeParams(const AuthorizeRequest& r,
                                                                 bool drop_prompt,
                                                                 std::string_view login_after);

// An authorization request that checked out.
struct Authorization {
  store::OpClient client;
  std::string redirect_uri;
  std::string state;
  std::string nonce;
  std::string code_challenge;
  std::vector<std::string> scopes;
  bool prompt_none = false;
  bool prompt_login = false;
  bool prompt_consent = false;
  std::optional<std::int64_t> max_age;
  std::int64_t login_after = 0;
  std::string login_hint;
  std::optional<std::string> hint_subject;  // the id_token_hint's sub
  std::string scope() const;
};

// A refused authorization request: redirected to `redirect_uri` with `state` (RFC 6749
// §4.1.2.1), or, when the client or redirect URI cannot be trusted (`redirect_uri` empty), shown
// on a page.
struct AuthorizeFailure {
  OpError error;
  std::string redirect_uri;
  std::string state;
};

// The token endpoint's form (RFC 6749 §4.1.3, §4.4.2, §6).
struct TokenRequest {
  std::string grant_type;
  std::optional<std::string> code, redirect_uri, code_verifier, refresh_token, scope;
};

// RP-Initiated Logout 1.0 §2.
struct LogoutRequest {
  std::optional<std::string> id_token_hint, post_logout_redirect_uri, state, client_id;
};
struct LogoutPlan {
  std::optional<std::int64_t> hint_user;  // the user the valid id_token_hint names
  std::int64_t hint_auth_time = 0;        // the sign-in it was issued under (its auth_time)
  std::string client_name;                // "" when no client is known
  std::string redirect;                   // the post-logout URI with state; "" for our page
};

struct ProviderSettings {
  std::string code_key;  // HMAC key of authorization codes as stored
  std::chrono::seconds code_ttl{60};
  std::int64_t refresh_grace_seconds = 0;
  std::chrono::seconds refresh_ttl{7 * 24 * 3600};
  bool email_verification_required = false;     // EMAIL_VERIFICATION=required
  std::vector<std::string> mfa_required_roles;  // MFA_REQUIRED_ROLES
};

// Gatehouse as an OpenID Provider (API.md): checks authorization requests, issues codes, runs
// the token endpoint's grants, answers userinfo, introspection and revocation, and checks logout
// requests. What the browser does (sign-in, consent page) is api/'s. Runs on workers (blocks on
// storage). Thread-safe.
class Provider {
 public:
  struct Deps {
    store::Store& store;
    ClientRegistry& clients;
    const OpTokens& tokens;
    auth::TokenCheck& check;
    auth::SessionEnd& end;
    auth::RevocationList& revocations;
    audit::AuditLog& audit;
    const core::Clock& clock;
    ProviderSettings settings;
  };
  explicit Provider(Deps deps) : d_(std::move(deps)) {}

  [[nodiscard]] tl::expected<Authorization, AuthorizeFailure> checkAuthorize(
      const AuthorizeRequest& request);
  // Where a refused request goes: redirect_uri?error=...&error_description=...&state=...&iss=...
  std::string errorLocation(const AuthorizeFailure& failure) const;
  // Whether `who` must sign in (again) before this request: no sign-in, prompt=login not yet
  // honoured, an older sign-in than max_age, or a hint for another user.
  bool needsSignIn(const Authorization& a, const auth::Principal* who) const;
  // Whether the consent screen is due: always with prompt=consent, and for a public client whose
  // redirect URI is not https (its identity cannot be assured); else never for first-party
  // clients, and unless the user consented to every requested scope.
  [[nodiscard]] Result<bool> needsConsent(const Authorization& a, std::int64_t user_id);
  [[nodiscard]] Result<void> saveConsent(const Authorization& a, std::int64_t user_id);
  // `a` with only the permission scopes `who` holds (the OpenID scopes stay): consent is asked
  // for, and tokens carry, no permission the user lacks. InvalidScope when none is left.
  [[nodiscard]] Result<Authorization> withinRights(Authorization a,
                                                   const auth::Principal& who) const;
  // What the account must do before a grant goes on (enrol a second factor for MFA_REQUIRED_ROLES,
  // verify its address under EMAIL_VERIFICATION=required), for the person or client; nullopt
  // when nothing. Looked at for a code, at its exchange (after spending it) and at every refresh,
  // and by introspection (found by an outside attack: grants begun before the operator required
  // either went on refreshing).
  std::optional<std::string> accountDue(const store::User& user) const;
  // A code for `who` (single use, bound to client, redirect URI and PKCE challenge; its scope
  // withinRights); the redirect location with code, state and iss (RFC 9207).
  [[nodiscard]] Result<std::string> issueCode(const Authorization& a, const auth::Principal& who,
                                              const auth::ClientInfo& origin);

  // The token endpoint's answer (RFC 6749 §5.1) for an authenticated `client`.
  [[nodiscard]] Result<boost::json::object> token(const TokenRequest& request,
                                                  const store::OpClient& client,
                                                  const auth::ClientInfo& origin);
  // OIDC Core §5.3: the claims the token's scopes allow. InvalidToken, InsufficientScope.
  [[nodiscard]] Result<boost::json::object> userinfo(std::string_view access_token);
  // RFC 7662 for `client`: inactive for tokens that are not its own.
  [[nodiscard]] Result<boost::json::object> introspect(std::string_view token,
                                                       const store::OpClient& client);
  // RFC 7009 for `client`: its refresh token ends the grant (and its access tokens), its access
  // token is revoked; anything else is ignored.
  [[nodiscard]] Result<void> revoke(std::string_view token, const store::OpClient& client,
                                    const auth::ClientInfo& origin);
  // InvalidRequest for a bad hint, an unknown client or an unregistered post-logout URI.
  [[nodiscard]] Result<LogoutPlan> checkLogout(const LogoutRequest& request);

  // The extra CSP form-action source a page needs when its form's answer ends in a redirect to
  // this client's `redirect_uri` (when registered); "" when none.
  std::string formActionFor(std::string_view client_id, std::string_view redirect_uri);

  const OpTokens& tokens() const { return d_.tokens; }
  std::int64_t now() const { return d_.clock.unixSeconds(); }
  // "<when>.<keyed MAC>": the sign-in prompt=login asked for must be later than `when`; only the
  // provider makes one that checkAuthorize accepts, and only for the same client, redirect URI,
  // state and nonce.
  std::string loginAfterMarker(std::int64_t when, const AuthorizeRequest& request) const;
  // "<when>.<keyed MAC>" that the consent page's form carries: the page was shown at `when` to
  // browser session `session` for exactly this request (every parameter, prompt and max_age
  // included), after its sign-in checks passed. consentShown takes the form's answer only with
  // it, for the same session and request, within kConsentPageSeconds (found by an outside
  // attack: a form posted directly skipped prompt=login and max_age).
  static constexpr std::int64_t kConsentPageSeconds = 15 * 60;
  std::string consentMarker(std::int64_t when, std::string_view session,
                            const AuthorizeRequest& request) const;
  bool consentShown(std::string_view marker, std::string_view session,
                    const AuthorizeRequest& request) const;
  // `request` with a valid id_token_hint replaced by a hint_sub marker: a request posted to
  // /oauth2/authorize goes on as a GET, and one needing a sign-in goes through the portal's
  // return address; the ID token (the user's claims, kept out of URLs by a POST) then stood in
  // the Location, the browser's history and a proxy's log (an outside attack). A hint that is
  // not valid becomes a seal that is not either, which checkAuthorize refuses as it would the
  // hint.
  AuthorizeRequest sealHint(AuthorizeRequest request) const;
  ClientRegistry& clients() { return d_.clients; }
  // Deletes the client with its consents, codes and grants, and ends every access token it was
  // issued, on every node (ClientRegistry::remove). How many grants ended; NotFound.
  [[nodiscard]] core::Result<std::int64_t> removeClient(std::string_view client_id);

 private:
  // "<when>.<HMAC of purpose, when and bound under the code key>", 16 bytes of it in hex.
  std::string marker(std::string_view purpose, std::int64_t when, std::string_view bound) const;
  // "<sub>~<when>.<keyed MAC>" for an id_token_hint naming `sub`, presented to `client_id`.
  std::string hintMarker(std::int64_t when, std::string_view client_id, std::string_view sub) const;
  Result<boost::json::object> codeGrant(const TokenRequest& r, const store::OpClient& client,
                                        const auth::ClientInfo& origin);
  Result<boost::json::object> refreshGrant(const TokenRequest& r, const store::OpClient& client,
                                           const auth::ClientInfo& origin);
  Result<boost::json::object> clientCredentialsGrant(const TokenRequest& r,
                                                     const store::OpClient& client);
  // Access token (+ ID token with openid, + a refresh token for `grant_scope` when
  // `refresh_jti` is set).
  Result<boost::json::object> issueTokens(const store::User& user, const TokenSubject& subject,
                                          const std::string& nonce, const std::string& refresh_jti,
                                          const std::string& grant_scope);
  // Whether, read again after a grant's write, the user (`read` as the exchange checked it) was
  // deactivated, deleted, or had its token watermark or password changed, or the portal sign-in
  // `portal` (none: a code from before codes named theirs) ended: the grant then ends unused.
  [[nodiscard]] core::Result<bool> grantOutlivedItsSignIn(const store::User& read,
                                                          const std::string& portal,
                                                          std::int64_t now);
  // A replayed code's grant: ended in storage and on every node, also when the first use has
  // not written it yet.
  void endReplayedGrant(const store::OpCode& code, const std::string& sid, std::int64_t now,
                        const auth::ClientInfo& origin);
  std::string codeHash(std::string_view code) const;
  void record(std::string type, const auth::ClientInfo& origin, std::optional<std::int64_t> user,
              boost::json::object detail);

  Deps d_;
};

// The source for a CSP form-action directive that allows a redirect to `uri`: its origin for
// http(s), its scheme ("com.example.app:") for a private-use one; "" when unusable.
std::string formActionSource(std::string_view uri);
// The claims of `user` that `scopes` allow (OIDC Core §5.4): email and email_verified for
// "email", preferred_username and name for "profile".
boost::json::object userClaims(const store::User& user, const std::vector<std::string>& scopes);

}  // namespace gatehouse::op
