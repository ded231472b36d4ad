#include "op/provider.hpp"

#include <algorithm>
#include <charconv>
#include <unordered_set>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "auth/account_policy.hpp"
#include "auth/claims.hpp"
#include "auth/tokens.hpp"
#include "core/base64url.hpp"
#include "core/log.hpp"
#include "crypto/digest.hpp"
#include "crypto/hmac.hpp"
#include "crypto/pkce.hpp"
#include "crypto/random.hpp"
#include "op/uris.hpp"
#include "ui/return_to.hpp"

namespace gatehouse::op {
namespace {

// How long a sign-in made for a request may take (its login_after marker lasts that long).
constexpr std::int64_t kLoginMarkerSeconds = 15 * 60;

namespace json = boost::json;

constexpr std::size_t kMaxStateBytes = 512;
constexpr std::size_t kMaxNonceBytes = 512;
constexpr std::size_t kMaxHintBytes = 320;
constexpr std::size_t kMaxScopeBytes = 1024;
constexpr std::size_t kMaxGrantsPerClient = 10;

bool has(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// The items of a space-separated scope, each once, in order. Linear: a scope of many items (the
// token endpoint's, up to kMaxScopeBytes) costs no more than its length.
std::vector<std::string> scopeItems(std::string_view scope) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (auto& s : auth::splitScopes(scope))
    if (seen.insert(s).second) out.push_back(std::move(s));
  return out;
}

std::string joinScopes(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

// `items` without the permissions the user does not hold (`held`): a token never carries a
// permission its user lacks, whatever the client may ask for. The OpenID scopes stay.
std::vector<std::string> permittedScopes(const std::vector<std::string>& items,
                                         const std::vector<std::string>& held) {
  std::vector<std::string> out;
  for (const auto& s : items)
    if (isOpenIdScope(s) || has(held, s)) out.push_back(s);
  return out;
}

bool allIn(const std::vector<std::string>& items, const std::vector<std::string>& allowed) {
  return std::all_of(items.begin(), items.end(),
                     [&](const std::string& s) { return has(allowed, s); });
}

std::optional<std::int64_t> parseSeconds(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

OpError storeFailed(const core::Error& e) {
  if (e.code == core::Errc::Unavailable || e.code == core::Errc::WouldBlock)
    return {OpErrc::TemporarilyUnavailable, "The service is unavailable. Try again.", e.message};
  return {OpErrc::ServerError, "The server could not answer.", e.message};
}

OpError authFailed(const auth::Error& e) {
  if (e.code == auth::Errc::Unavailable || e.code == auth::Errc::WouldBlock)
    return {OpErrc::TemporarilyUnavailable, "The service is unavailable. Try again.", e.detail};
  return {OpErrc::ServerError, "The server could not answer.", e.detail};
}

json::array amrJson(const std::vector<std::string>& amr) {
  json::array out;
  for (const auto& m : amr) out.emplace_back(m);
  return out;
}

std::vector<std::string> amrFrom(const json::value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& m : v->get_array())
    if (m.is_string()) out.emplace_back(m.get_string());
  return out;
}

std::string stringAt(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t intAt(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_int64() ? v->get_int64() : 0;
}

}  // namespace

std::string Authorization::scope() const { return joinScopes(scopes); }

AuthorizeRequest parseAuthorize(const ParamLookup& param) {
  AuthorizeRequest r;
  r.client_id = param("client_id");
  r.redirect_uri = param("redirect_uri");
  r.response_type = param("response_type");
  r.response_mode = param("response_mode");
  r.scope = param("scope");
  r.state = param("state");
  r.nonce = param("nonce");
  r.code_challenge = param("code_challenge");
  r.code_challenge_method = param("code_challenge_method");
  r.prompt = param("prompt");
  r.max_age = param("max_age");
  r.login_hint = param("login_hint");
  r.id_token_hint = param("id_token_hint");
  r.has_request = param("request").has_value();
  r.has_request_uri = param("request_uri").has_value();
  r.login_after = param("login_after");
  r.hint_sub = param("hint_sub");
  return r;
}

std::vector<std::pair<std::string, std::string>> authorizeParams(const AuthorizeRequest& r,
                                                                 bool drop_prompt,
                                                                 std::string_view login_after) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto add = [&out](const char* name, const std::optional<std::string>& v) {
    if (v) out.emplace_back(name, *v);
  };
  add("client_id", r.client_id);
  add("redirect_uri", r.redirect_uri);
  add("response_type", r.response_type);
  add("response_mode", r.response_mode);
  add("scope", r.scope);
  add("state", r.state);
  add("nonce", r.nonce);
  add("code_challenge", r.code_challenge);
  add("code_challenge_method", r.code_challenge_method);
  if (r.prompt && drop_prompt) {
    // After the sign-in prompt=login asked for: the rest of the prompt (consent) still holds.
    std::string rest;
    for (const auto& p : auth::splitScopes(*r.prompt))
      if (p != "login" && p != "select_account") rest += (rest.empty() ? "" : " ") + p;
    if (!rest.empty()) out.emplace_back("prompt", rest);
  } else {
    add("prompt", r.prompt);
  }
  add("max_age", r.max_age);
  add("login_hint", r.login_hint);
  add("id_token_hint", r.id_token_hint);
  add("hint_sub", r.hint_sub);
  if (!login_after.empty()) {
    out.emplace_back("login_after", std::string(login_after));
  } else {
    add("login_after", r.login_after);
  }
  return out;
}

std::string formActionSource(std::string_view uri) {
  if (uri.starts_with("https://") || uri.starts_with("http://")) {
    auto origin = ui::originOf(uri);
    return origin ? *origin : std::string();
  }
  const auto colon = uri.find(':');
  if (colon == std::string_view::npos || redirectUriProblem(uri)) return {};
  return std::string(uri.substr(0, colon + 1));
}

json::object userClaims(const store::User& user, const std::vector<std::string>& scopes) {
  json::object out;
  if (has(scopes, "email")) {
    out["email"] = user.email;
    out["email_verified"] = user.email_verified;
  }
  if (has(scopes, "profile")) {
    out["preferred_username"] = user.username;
    out["name"] = user.username;
  }
  return out;
}

tl::expected<Authorization, AuthorizeFailure> Provider::checkAuthorize(const AuthorizeRequest& r) {
  // Until the client and its redirect URI are known good, a refusal is a page (RFC 6749
  // §4.1.2.1: never redirect to an unverified URI).
  const auto page = [](OpErrc code, std::string text, std::string detail = {}) {
    return tl::unexpected(AuthorizeFailure{{code, std::move(text), std::move(detail)}, {}, {}});
  };
  if (!r.client_id || r.client_id->empty())
    return page(OpErrc::InvalidRequest, "The request names no client (client_id).");
  auto found = d_.clients.find(*r.client_id);
  if (!found) {
    const OpError e = storeFailed(found.error());
    return tl::unexpected(AuthorizeFailure{e, {}, {}});
  }
  if (!*found) return page(OpErrc::InvalidRequest, "The client is unknown.", "unknown client_id");
  Authorization a;
  a.client = std::move(**found);
  if (!r.redirect_uri) return page(OpErrc::InvalidRequest, "The request names no redirect_uri.");
  if (!redirectUriRegistered(a.client.redirect_uris, *r.redirect_uri))
    return page(OpErrc::InvalidRequest, "The redirect_uri is not registered for this client.",
                "unregistered redirect_uri");
  // One registered before today's rules (a query pre-setting code or state, a private-use
  // scheme's userinfo) is not used either: register the client's URIs again (a review).
  if (auto problem = redirectUriProblem(*r.redirect_uri))
    return page(OpErrc::InvalidRequest,
                "The client's redirect_uri is no longer allowed: its administrator must register "
                "it again.",
                "registered redirect_uri " + *problem);
  a.redirect_uri = *r.redirect_uri;
  const std::string state = r.state && r.state->size() <= kMaxStateBytes ? *r.state : std::string();
  const auto back = [&](OpErrc code, std::string text) {
    return tl::unexpected(AuthorizeFailure{{code, std::move(text), {}}, a.redirect_uri, state});
  };
  if (r.state && r.state->size() > kMaxStateBytes)
    return back(OpErrc::InvalidRequest, "state is longer than 512 bytes.");
  a.state = state;
  if (!r.response_type) return back(OpErrc::InvalidRequest, "response_type is required.");
  if (*r.response_type != "code")
    return back(OpErrc::UnsupportedResponseType, "Only response_type=code is supported.");
  if (r.response_mode && *r.response_mode != "query")
    return back(OpErrc::InvalidRequest, "Only response_mode=query is supported.");
  if (!allowsGrant(a.client, kGrantCode))
    return back(OpErrc::UnauthorizedClient, "The client may not use the authorization code flow.");
  if (r.has_request) return back(OpErrc::RequestNotSupported, "Request objects are not supported.");
  if (r.has_request_uri)
    return back(OpErrc::RequestUriNotSupported, "request_uri is not supported.");
  if (!r.scope || r.scope->empty()) return back(OpErrc::InvalidScope, "scope is required.");
  if (r.scope->size() > kMaxScopeBytes) return back(OpErrc::InvalidScope, "scope is too long.");
  // OIDC Core §3.1.2.1: scope values the provider does not know are ignored; one it knows but
  // the client may not have is refused.
  for (auto& item : scopeItems(*r.scope))
    if (has(d_.clients.scopes(), item)) a.scopes.push_back(std::move(item));
  if (a.scopes.empty()) return back(OpErrc::InvalidScope, "No scope the provider knows.");
  if (!allIn(a.scopes, clientScopes(a.client)))
    return back(OpErrc::InvalidScope, "The client may not ask for that scope.");
  // RFC 7636 §4.3, OAuth 2.1: S256 only; required of public clients.
  if (r.code_challenge_method && *r.code_challenge_method != "S256")
    return back(OpErrc::InvalidRequest, "Only code_challenge_method=S256 is supported.");
  if (r.code_challenge) {
    if (!r.code_challenge_method)
      return back(OpErrc::InvalidRequest, "code_challenge_method=S256 is required.");
    if (r.code_challenge->size() != 43 || !crypto::isPkceValue(*r.code_challenge))
      return back(OpErrc::InvalidRequest, "code_challenge is malformed.");
    a.code_challenge = *r.code_challenge;
  } else if (r.code_challenge_method) {
    return back(OpErrc::InvalidRequest, "code_challenge is missing.");
  } else if (a.client.is_public) {
    return back(OpErrc::InvalidRequest, "PKCE with S256 is required for public clients.");
  }
  if (r.nonce) {
    if (r.nonce->size() > kMaxNonceBytes)
      return back(OpErrc::InvalidRequest, "nonce is longer than 512 bytes.");
    a.nonce = *r.nonce;
  }
  if (r.prompt) {
    for (const auto& p : auth::splitScopes(*r.prompt)) {
      if (p == "none") {
        a.prompt_none = true;
      } else if (p == "login" || p == "select_account") {
        a.prompt_login = true;
      } else if (p == "consent") {
        a.prompt_consent = true;
      } else {
        return back(OpErrc::InvalidRequest, "prompt holds an unsupported value.");
      }
    }
    // OIDC Core §3.1.2.1: none with any other value is an error.
    if (a.prompt_none && (a.prompt_login || a.prompt_consent))
      return back(OpErrc::InvalidRequest, "prompt=none cannot be combined.");
  }
  if (r.max_age) {
    a.max_age = parseSeconds(*r.max_age);
    if (!a.max_age) return back(OpErrc::InvalidRequest, "max_age must be a number of seconds.");
  }
  if (r.login_after) {
    // Ours, keyed: a request cannot waive (or push into the future) the sign-in prompt=login
    // asked for. A bad marker is ignored.
    const auto dot = r.login_after->find('.');
    if (dot != std::string::npos) {
      const auto when = parseSeconds(std::string_view(*r.login_after).substr(0, dot));
      // And it lasts as long as a sign-in page may stay open (the review: it never expired).
      if (when && *when + kLoginMarkerSeconds >= now() &&
          crypto::constantTimeEquals(loginAfterMarker(*when, r), *r.login_after))
        a.login_after = *when;
    }
  }
  if (r.login_hint) {
    if (r.login_hint->size() > kMaxHintBytes)
      return back(OpErrc::InvalidRequest, "login_hint is too long.");
    a.login_hint = *r.login_hint;
  }
  if (r.id_token_hint) {
    auto hint = d_.tokens.verifyIdTokenHint(*r.id_token_hint);
    if (!hint) return back(OpErrc::InvalidRequest, "id_token_hint is not valid.");
    a.hint_subject = stringAt(*hint, "sub");
  } else if (r.hint_sub) {
    // Ours (sealHint), for this client; anything else is refused as the hint it stands for would
    // be. Not limited in time, as the hint itself is not (its exp is not checked): a sign-in and
    // a consent page may take their time (a review: a 15-minute seal turned them into errors).
    // Keyed under the code key (from the master secret), it outlives a change of the provider's
    // signing key, which the hint would not: a seal only narrows who may sign in.
    const auto tilde = r.hint_sub->find('~');
    const auto dot = r.hint_sub->find('.', tilde == std::string::npos ? 0 : tilde);
    const auto when =
        tilde == std::string::npos || dot == std::string::npos
            ? std::nullopt
            : parseSeconds(std::string_view(*r.hint_sub).substr(tilde + 1, dot - tilde - 1));
    const std::string sub = r.hint_sub->substr(0, std::min(tilde, r.hint_sub->size()));
    if (!when || !crypto::constantTimeEquals(hintMarker(*when, *r.client_id, sub), *r.hint_sub))
      return back(OpErrc::InvalidRequest, "id_token_hint is not valid.");
    a.hint_subject = sub;
  }
  return a;
}

std::string Provider::hintMarker(std::int64_t when, std::string_view client_id,
                                 std::string_view sub) const {
  const std::string bound =
      std::to_string(client_id.size()) + ":" + std::string(client_id) + "\n" + std::string(sub);
  return std::string(sub) + "~" + marker("hint_sub", when, bound);
}

AuthorizeRequest Provider::sealHint(AuthorizeRequest r) const {
  if (!r.id_token_hint) return r;
  auto hint = d_.tokens.verifyIdTokenHint(*r.id_token_hint);
  const std::string sub = hint ? stringAt(*hint, "sub") : std::string();
  // A subject is a user id here: digits, never the separator. A hint that is not valid (another
  // provider key's, made up) goes on as a seal that is not either, refused as the hint would be:
  // never the token itself (a review: after a provider key change every stored ID token was one).
  const bool valid = !sub.empty() && sub.find_first_not_of("0123456789") == std::string::npos;
  r.hint_sub = valid && r.client_id ? hintMarker(now(), *r.client_id, sub) : std::string("~");
  r.id_token_hint.reset();
  return r;
}

std::string Provider::errorLocation(const AuthorizeFailure& f) const {
  return withQuery(f.redirect_uri, {{"error", errorName(f.error.code)},
                                    {"error_description", f.error.description},
                                    {"state", f.state},
                                    {"iss", d_.tokens.settings().issuer}});
}

bool Provider::needsSignIn(const Authorization& a, const auth::Principal* who) const {
  if (who == nullptr) return true;
  const std::int64_t auth_time = auth::authTimeOf(who->claims());
  const std::int64_t now = d_.clock.unixSeconds();
  if (a.prompt_login && a.login_after == 0) return true;
  if (a.login_after != 0 && auth_time < a.login_after) return true;
  // A sign-in made for this very request (after its keyed marker) meets max_age however many
  // seconds the way back took (found by an outside attack: max_age=0 sent the person back to the
  // sign-in page whenever that hop crossed a second).
  const bool for_this_request = a.login_after != 0 && auth_time >= a.login_after;
  if (a.max_age && !for_this_request && (auth_time <= 0 || now - auth_time > *a.max_age))
    return true;
  if (a.hint_subject && *a.hint_subject != std::to_string(who->user->id)) return true;
  return false;
}

Result<bool> Provider::needsConsent(const Authorization& a, std::int64_t user_id) {
  if (a.prompt_consent) return true;  // always asks, a first-party client's request included
  // A public client answered at a private-use scheme or a loopback port cannot be told from
  // another app on the device claiming the same (RFC 8252 §8.6): the user is asked every time,
  // whatever they allowed before and first-party or not (found by an outside attack: prompt=none
  // handed such an impostor a code, which its own PKCE verifier redeemed).
  if (a.client.is_public && !a.redirect_uri.starts_with("https://")) return true;
  if (a.client.first_party) return false;
  auto given = d_.store.op().findConsent(user_id, a.client.client_id);
  if (!given) return tl::unexpected(storeFailed(given.error()));
  if (!*given) return true;
  return !allIn(a.scopes, auth::splitScopes(**given));
}

Result<void> Provider::saveConsent(const Authorization& a, std::int64_t user_id) {
  // What was asked before stays consented with what is asked now.
  std::vector<std::string> scopes = a.scopes;
  auto given = d_.store.op().findConsent(user_id, a.client.client_id);
  if (!given) return tl::unexpected(storeFailed(given.error()));
  if (*given) {
    for (auto& s : auth::splitScopes(**given))
      if (!has(scopes, s) && has(clientScopes(a.client), s)) scopes.push_back(std::move(s));
  }
  if (auto ok = d_.store.op().saveConsent(user_id, a.client.client_id, joinScopes(scopes),
                                          d_.clock.unixSeconds());
      !ok)
    return tl::unexpected(storeFailed(ok.error()));
  return {};
}

std::string Provider::loginAfterMarker(std::int64_t when, const AuthorizeRequest& r) const {
  // Bound to the request it was made for: its client, redirect URI, state, nonce, PKCE challenge
  // and scope (the review: a marker from another request of the same client, with another
  // challenge, passed for this one's sign-in). Each length-prefixed, so that no text moved from
  // one field into the next (a state holding a line break) reads the same (an outside review).
  std::string bound;
  for (const auto* field :
       {&r.client_id, &r.redirect_uri, &r.state, &r.nonce, &r.code_challenge, &r.scope}) {
    const std::string& value = field->has_value() ? **field : std::string();
    bound += std::to_string(value.size()) + ":" + value + "\n";
  }
  return marker("login_after", when, bound);
}

std::string Provider::consentMarker(std::int64_t when, std::string_view session,
                                    const AuthorizeRequest& r) const {
  // The parameters as the page's form carries them (prompt without login: the sign-in it asked
  // for is behind), each value length-prefixed so that no two requests read the same.
  std::string bound(session);
  for (const auto& [name, value] : authorizeParams(r, true, {}))
    bound += "\n" + name + "=" + std::to_string(value.size()) + ":" + value;
  return marker("consent", when, bound);
}

bool Provider::consentShown(std::string_view marker, std::string_view session,
                            const AuthorizeRequest& r) const {
  const auto dot = marker.find('.');
  if (dot == std::string_view::npos || session.empty()) return false;
  const auto when = parseSeconds(marker.substr(0, dot));
  const std::int64_t now = d_.clock.unixSeconds();
  // A minute of clock difference between nodes; never a page older than its lifetime.
  if (!when || *when > now + 60 || now - *when > kConsentPageSeconds) return false;
  return crypto::constantTimeEquals(consentMarker(*when, session, r), marker);
}

std::string Provider::marker(std::string_view purpose, std::int64_t when,
                             std::string_view bound) const {
  const std::string text = std::to_string(when);
  const std::string input = std::string(purpose) + "\n" + text + "\n" + std::string(bound);
  auto mac = crypto::hmac(crypto::Digest::Sha256, d_.settings.code_key, input);
  return text + "." + (mac ? core::hexEncode(mac->substr(0, 16)) : std::string());
}

std::string Provider::codeHash(std::string_view code) const {
  auto mac = crypto::hmac(crypto::Digest::Sha256, d_.settings.code_key, code);
  return mac ? core::hexEncode(*mac) : std::string();
}

void Provider::record(std::string type, const auth::ClientInfo& origin,
                      std::optional<std::int64_t> user, json::object detail) {
  d_.audit.record({std::move(type), origin.request_id, user, user, origin.ip, origin.user_agent,
                   std::move(detail)});
}

Result<Authorization> Provider::withinRights(Authorization a, const auth::Principal& who) const {
  a.scopes = permittedScopes(a.scopes, who.permissions);
  if (a.scopes.empty())
    return fail(OpErrc::InvalidScope, "The account holds none of the permissions asked for.");
  return a;
}

std::optional<std::string> Provider::accountDue(const store::User& user) const {
  if (auth::enrolmentDue(user, d_.settings.mfa_required_roles))
    return "The account must enrol a second factor first.";
  if (d_.settings.email_verification_required && !user.email_verified)
    return "The account must verify its email address first.";
  return std::nullopt;
}

Result<std::string> Provider::issueCode(const Authorization& asked, const auth::Principal& who,
                                        const auth::ClientInfo& origin) {
  if (auto due = accountDue(*who.user)) return fail(OpErrc::AccessDenied, std::move(*due));
  // Narrowed again here, whatever the caller did: the code is what the tokens will carry.
  auto narrowed = withinRights(asked, who);
  if (!narrowed) return tl::unexpected(narrowed.error());
  const Authorization& a = *narrowed;
  auto code = crypto::randomToken(32);
  if (!code) return fail(OpErrc::ServerError, "The server could not answer.", code.error().message);
  const std::int64_t now = d_.clock.unixSeconds();
  const json::object data{{"redirect_uri", a.redirect_uri},
                          {"sid", auth::sessionOf(who.claims())},
                          {"scope", a.scope()},
                          {"nonce", a.nonce},
                          {"code_challenge", a.code_challenge},
                          {"auth_time", auth::authTimeOf(who.claims())},
                          {"amr", amrJson(auth::amrOf(who.claims()))}};
  store::OpCode stored{codeHash(*code),
                       a.client.client_id,
                       who.user->id,
                       json::serialize(data),
                       now,
                       now + d_.settings.code_ttl.count()};
  if (stored.hash.empty()) return fail(OpErrc::ServerError, "The server could not answer.");
  if (auto ok = d_.store.op().putCode(stored); !ok) return tl::unexpected(storeFailed(ok.error()));
  record("op.code_issued", origin, who.user->id,
         {{"client_id", a.client.client_id}, {"scope", a.scope()}});
  return withQuery(a.redirect_uri,
                   {{"code", *code}, {"state", a.state}, {"iss", d_.tokens.settings().issuer}});
}

Result<json::object> Provider::token(const TokenRequest& r, const store::OpClient& client,
                                     const auth::ClientInfo& origin) {
  // As at the authorization endpoint: a scope is short, checked before it is split.
  if (r.scope && r.scope->size() > kMaxScopeBytes)
    return fail(OpErrc::InvalidScope, "scope is too long.");
  if (r.grant_type == kGrantCode) {
    if (!allowsGrant(client, kGrantCode))
      return fail(OpErrc::UnauthorizedClient, "The client may not use this grant.");
    return codeGrant(r, client, origin);
  }
  if (r.grant_type == kGrantRefresh) {
    if (!allowsGrant(client, kGrantRefresh))
      return fail(OpErrc::UnauthorizedClient, "The client may not use this grant.");
    return refreshGrant(r, client, origin);
  }
  if (r.grant_type == kGrantClientCredentials) {
    if (!allowsGrant(client, kGrantClientCredentials) || client.is_public)
      return fail(OpErrc::UnauthorizedClient, "The client may not use this grant.");
    return clientCredentialsGrant(r, client);
  }
  if (r.grant_type.empty()) return fail(OpErrc::InvalidRequest, "grant_type is required.");
  return fail(OpErrc::UnsupportedGrantType, "The grant type is not supported.");
}

Result<json::object> Provider::issueTokens(const store::User& user, const TokenSubject& subject,
                                           const std::string& nonce, const std::string& refresh_jti,
                                           const std::string& grant_scope) {
  const auto scopes = auth::splitScopes(subject.scope);
  auto access = d_.tokens.accessToken(subject);
  if (!access)
    return fail(OpErrc::ServerError, "The server could not answer.", access.error().message);
  json::object out{{"access_token", access->token},
                   {"token_type", "Bearer"},
                   {"expires_in", d_.tokens.settings().access_ttl.count()},
                   {"scope", subject.scope}};
  if (has(scopes, "openid")) {
    json::object claims = userClaims(user, scopes);
    if (!nonce.empty()) claims["nonce"] = nonce;
    auto id = d_.tokens.idToken(subject, access->token, std::move(claims));
    if (!id) return fail(OpErrc::ServerError, "The server could not answer.", id.error().message);
    out["id_token"] = std::move(*id);
  }
  if (!refresh_jti.empty()) {
    // RFC 6749 §6: the refresh token keeps the grant's whole scope, however narrow this answer.
    TokenSubject whole = subject;
    whole.scope = grant_scope;
    auto refresh = d_.tokens.refreshToken(whole, refresh_jti);
    if (!refresh)
      return fail(OpErrc::ServerError, "The server could not answer.", refresh.error().message);
    out["refresh_token"] = std::move(refresh->token);
  }
  return out;
}

Result<json::object> Provider::codeGrant(const TokenRequest& r, const store::OpClient& client,
                                         const auth::ClientInfo& origin) {
  const auto bad = [] {
    return fail(OpErrc::InvalidGrant, "The code is invalid, expired or used.");
  };
  if (!r.code || r.code->empty() || r.code->size() > 128)
    return fail(OpErrc::InvalidRequest, "code is required.");
  if (!r.redirect_uri) return fail(OpErrc::InvalidRequest, "redirect_uri is required.");
  const std::int64_t now = d_.clock.unixSeconds();
  const std::string hash = codeHash(*r.code);
  // What the client presents is checked before the code is spent: a request with another
  // redirect URI or a wrong verifier (whoever intercepted the code) neither burns it for the
  // client nor, once it was used, ends the grant it started.
  auto found = d_.store.op().findCode(hash, client.client_id, now);
  if (!found) return tl::unexpected(storeFailed(found.error()));
  if (!*found) return bad();
  boost::system::error_code ec;
  json::value parsed = json::parse((*found)->data, ec);
  if (ec || !parsed.is_object()) return fail(OpErrc::ServerError, "The server could not answer.");
  const json::object& data = parsed.get_object();
  // RFC 6749 §4.1.3: the same redirect URI; RFC 7636 §4.6: the verifier.
  if (*r.redirect_uri != stringAt(data, "redirect_uri")) return bad();
  const std::string challenge = stringAt(data, "code_challenge");
  if (!challenge.empty()) {
    if (!r.code_verifier || !crypto::verifierMatches(*r.code_verifier, challenge)) return bad();
  } else if (r.code_verifier) {
    return bad();  // a verifier for a code issued without a challenge (OAuth 2.1 §4.1.3)
  }
  auto sid = auth::newTokenId();
  auto refresh_jti = auth::newTokenId();
  if (!sid || !refresh_jti) return fail(OpErrc::ServerError, "The server could not answer.");
  // Only the client the code was issued to can spend it, or end its grant by replaying it.
  auto redeemed = d_.store.op().redeemCode(hash, client.client_id, *sid, now);
  if (!redeemed) return tl::unexpected(storeFailed(redeemed.error()));
  using Outcome = store::CodeRedemption::Outcome;
  if (redeemed->outcome == Outcome::Unknown) return bad();
  if (redeemed->outcome == Outcome::Replayed) {
    // RFC 6749 §4.1.2, RFC 9700 §4.5: a code used twice revokes what its first use issued. Once:
    // a grant already ended (by an earlier replay, or otherwise) is neither ended nor recorded
    // again, or each replay of a spent code, for the eleven minutes it is kept, wrote a record
    // and a session row (an outside attack: 100 records in 0.2 s from one account).
    if (!redeemed->session_id.empty()) {
      auto grant = d_.store.sessions().find(redeemed->session_id);
      if (grant && *grant && (*grant)->revoked) return bad();
      endReplayedGrant(redeemed->code, redeemed->session_id, now, origin);
    }
    record("op.code_replayed", origin, redeemed->code.user_id,
           {{"client_id", redeemed->code.client_id}});
    return bad();
  }
  const store::OpCode& code = redeemed->code;
  auto user = d_.store.users().findById(code.user_id);
  if (!user) return tl::unexpected(storeFailed(user.error()));
  // An account deactivated, or whose password changed, since the code was issued.
  if (!*user || !(*user)->is_active || (*user)->tokens_valid_after > code.created_at) return bad();
  // After the code is spent (a check before it would answer a replay of a spent code without
  // ending its grant): no grant begins; the person signs in again once it is done.
  if (auto due = accountDue(**user)) return fail(OpErrc::InvalidGrant, std::move(*due));
  // The sign-in that asked for the code must still be live: signing out, a password change or
  // reset (in the code's second too) and an admin's ending of the user's sessions end the codes
  // it asked for. Found by an outside attack: a stolen portal cookie kept minting codes, and one
  // redeemed after the victim's password change started a fresh grant. (A code issued before
  // codes named their sign-in carries none; they live a minute.)
  if (const std::string portal = stringAt(data, "sid"); !portal.empty()) {
    auto session = d_.store.sessions().find(portal);
    if (!session) return tl::unexpected(storeFailed(session.error()));
    if (!*session || !(*session)->liveAt(now) || (*session)->user_id != code.user_id) return bad();
  }
  TokenSubject subject{std::to_string(code.user_id), client.client_id,
                       stringAt(data, "scope"),      *sid,
                       intAt(data, "auth_time"),     amrFrom(data.if_contains("amr"))};
  // The code was narrowed to the user's rights when issued; a role changed in its minute counts.
  subject.scope = joinScopes(permittedScopes(auth::splitScopes(subject.scope),
                                             d_.check.policy().permissionsOf((*user)->role)));
  if (subject.scope.empty()) return bad();
  const auto scopes = auth::splitScopes(subject.scope);
  const bool offline = allowsGrant(client, kGrantRefresh) && has(scopes, "offline_access");
  // The grant is a session of the user's (their list shows it, and ending it ends its tokens).
  // A user holds at most kMaxGrantsPerClient live grants of one client: the oldest ends first, so
  // a client (a public one's id is no secret) cannot pile sessions up on an account.
  const std::string label = grantLabel(client);
  auto live = d_.store.sessions().listForUser(code.user_id, now);
  if (!live) return tl::unexpected(storeFailed(live.error()));
  std::vector<const store::Session*> mine;
  for (const auto& held : *live)
    if (held.user_agent == label) mine.push_back(&held);
  std::sort(mine.begin(), mine.end(), [](const store::Session* x, const store::Session* y) {
    return x->created_at < y->created_at;
  });
  // Its row goes too: a client renewing in a loop (prompt=none) left a row per renewal until the
  // retention purge a day later, 300 a minute from one address (an outside attack).
  for (std::size_t i = 0; i + kMaxGrantsPerClient <= mine.size(); ++i) {
    auto ended = d_.end.end(mine[i]->id);
    if (ended) {
      if (auto gone = d_.store.sessions().forgetEnded(mine[i]->id); !gone)
        spdlog::warn("request_id={} an old grant's row stays until the purge: {}",
                     origin.request_id, gone.error().message);
    } else {
      spdlog::warn("request_id={} an old grant did not end: {}", origin.request_id,
                   ended.error().detail);
    }
  }
  store::Session session{
      *sid,
      code.user_id,
      *refresh_jti,
      label,
      origin.ip,
      now,
      now,
      now + (offline ? d_.settings.refresh_ttl.count() : d_.tokens.settings().access_ttl.count()),
      false,
      {},
      0};
  if (auto ok = d_.store.sessions().create(session); !ok) {
    // A replay of this code, racing this first use, took the grant's id first (see
    // endReplayedGrant): nothing is issued.
    if (ok.error().code == core::Errc::AlreadyExists) return bad();
    return tl::unexpected(storeFailed(ok.error()));
  }
  // A password change or reset, an administrator's ending of the user's sessions or a
  // deactivation that committed while this exchange decided must not leave a live grant (found
  // by an outside attack: one refreshed for good, and came back with a reactivation). Such a change
  // ends the sessions it finds after its own write; this reads the user and the sign-in after
  // writing the grant, so one of the two sees the other (as auth::Sessions::open). SQLite runs
  // one writer at a time; on PostgreSQL a change locks the user's row first (FOR UPDATE), which
  // the grant's insert (its foreign key's key-share lock) waits for, and an administrator's ending
  // of the sessions moves the watermark in a transaction of its own before it lists them.
  auto outlived = grantOutlivedItsSignIn(**user, stringAt(data, "sid"), now);
  if (!outlived || *outlived) {
    if (auto ended = d_.end.end(*sid); !ended)
      spdlog::warn("request_id={} a grant begun during an account change was not ended: {}",
                   origin.request_id, ended.error().detail);
    if (!outlived) return tl::unexpected(storeFailed(outlived.error()));
    return bad();
  }
  record(
      "op.token_issued", origin, code.user_id,
      {{"client_id", client.client_id}, {"grant", "authorization_code"}, {"scope", subject.scope}});
  return issueTokens(**user, subject, stringAt(data, "nonce"), offline ? *refresh_jti : "",
                     subject.scope);
}

core::Result<bool> Provider::grantOutlivedItsSignIn(const store::User& read,
                                                    const std::string& portal, std::int64_t now) {
  auto fresh = d_.store.users().findById(read.id);
  if (!fresh) return tl::unexpected(fresh.error());
  // The hash too: the watermark moves by whole seconds, and a code from before codes named their
  // sign-in has nothing else to be caught by.
  if (!*fresh || !(*fresh)->is_active || (*fresh)->tokens_valid_after != read.tokens_valid_after ||
      (*fresh)->password_hash != read.password_hash)
    return true;
  if (portal.empty()) return false;
  auto session = d_.store.sessions().find(portal);
  if (!session) return tl::unexpected(session.error());
  return !*session || !(*session)->liveAt(now);
}

void Provider::endReplayedGrant(const store::OpCode& code, const std::string& sid, std::int64_t now,
                                const auth::ClientInfo& origin) {
  // The first use may not have written its grant yet: a revoked placeholder takes the grant's id,
  // so that first use cannot create it afterwards. Whichever is written first, the row ends.
  auto placeholder_jti = auth::newTokenId();
  if (placeholder_jti) {
    const store::Session placeholder{sid,
                                     code.user_id,
                                     *placeholder_jti,
                                     "replayed code",
                                     origin.ip,
                                     now,
                                     now,
                                     now + d_.settings.refresh_ttl.count(),
                                     false,
                                     {},
                                     0};
    if (auto made = d_.store.sessions().create(placeholder);
        !made && made.error().code != core::Errc::AlreadyExists)
      spdlog::warn("request_id={} code replay: placeholder not written: {}", origin.request_id,
                   made.error().message);
  }
  if (auto ended = d_.end.end(sid); !ended)
    spdlog::warn("request_id={} code replay: grant not ended: {}", origin.request_id,
                 ended.error().detail);
}

Result<json::object> Provider::refreshGrant(const TokenRequest& r, const store::OpClient& client,
                                            const auth::ClientInfo& origin) {
  const auto bad = [] { return fail(OpErrc::InvalidGrant, "The refresh token is not valid."); };
  if (!r.refresh_token) return fail(OpErrc::InvalidRequest, "refresh_token is required.");
  auto claims = d_.tokens.verifyRefresh(*r.refresh_token);
  if (!claims) return bad();
  if (stringAt(claims->raw, "client_id") != client.client_id) return bad();
  const auto user_id = auth::userIdOf(*claims);
  if (!user_id) return bad();
  TokenSubject subject{claims->sub,
                       client.client_id,
                       stringAt(claims->raw, "scope"),
                       stringAt(claims->raw, "sid"),
                       intAt(claims->raw, "auth_time"),
                       amrFrom(claims->raw.if_contains("amr"))};
  const std::string grant_scope = subject.scope;
  if (r.scope) {
    // RFC 6749 §6: narrower, never wider.
    const auto asked = scopeItems(*r.scope);
    if (asked.empty() || !allIn(asked, auth::splitScopes(subject.scope)))
      return fail(OpErrc::InvalidScope, "The scope is wider than the grant.");
    subject.scope = joinScopes(asked);
  }
  auto user = d_.store.users().findById(*user_id);
  if (!user) return tl::unexpected(storeFailed(user.error()));
  // As for sessions: a token from before a password change or deactivation is void, even if its
  // grant's row was missed.
  if (!*user || !(*user)->is_active ||
      auth::againstWatermark(claims->iat.value_or(0), (*user)->tokens_valid_after,
                             !subject.sid.empty()) == auth::Watermark::Ended)
    return bad();
  // A grant ends as a whole: one whose access tokens were ended gives no new ones.
  if (!subject.sid.empty() && d_.end.endedByList(subject.sid)) return bad();
  // Before the rotation: the refresh token works again once the account did what is due, as a
  // session's does (auth::Sessions::refresh).
  if (auto due = accountDue(**user)) return fail(OpErrc::InvalidGrant, std::move(*due));
  // The role's permissions now: one taken from the user since the grant leaves its tokens.
  const auto& held = d_.check.policy().permissionsOf((*user)->role);
  subject.scope = joinScopes(permittedScopes(auth::splitScopes(subject.scope), held));
  const std::string kept_scope = joinScopes(permittedScopes(auth::splitScopes(grant_scope), held));
  // A grant that still holds something, asked here only for what the user lost: that scope is
  // refused, the refresh token stays good (invalid_grant would tell the client to drop it).
  if (subject.scope.empty() && r.scope && !kept_scope.empty())
    return fail(OpErrc::InvalidScope, "The user no longer holds that scope.");
  if (subject.scope.empty()) return bad();
  auto next = auth::newTokenId();
  if (!next) return fail(OpErrc::ServerError, "The server could not answer.");
  const std::int64_t now = d_.clock.unixSeconds();
  const std::int64_t tokens_until = d_.end.tokensUntil();
  auto outcome = d_.store.sessions().rotate(subject.sid, claims->jti, *next, now,
                                            now + d_.settings.refresh_ttl.count(),
                                            d_.settings.refresh_grace_seconds, tokens_until);
  if (!outcome) return tl::unexpected(storeFailed(outcome.error()));
  switch (*outcome) {
    case store::RotateOutcome::Rotated:
      break;
    case store::RotateOutcome::Reused:
      // As for sessions: the whole grant ends, its access tokens with it (stored by the
      // rotation's transaction; told to every node here).
      d_.end.tokensEnded(subject.sid, tokens_until);
      record("op.refresh_reuse_detected", origin, *user_id, {{"client_id", client.client_id}});
      return bad();
    case store::RotateOutcome::Inactive:
    case store::RotateOutcome::GraceRace:
      return bad();
  }
  return issueTokens(**user, subject, {}, *next, kept_scope);
}

core::Result<std::int64_t> Provider::removeClient(std::string_view client_id) {
  const std::int64_t until =
      clientTokensUntil(d_.clock.unixSeconds(), d_.tokens.settings().access_ttl);
  auto ended = d_.clients.remove(client_id, until);
  if (ended) d_.revocations.announceClient(client_id, until);
  return ended;
}

Result<json::object> Provider::clientCredentialsGrant(const TokenRequest& r,
                                                      const store::OpClient& client) {
  // The OpenID scopes speak of a user; a client acting for itself has none (OIDC Core §5.4).
  std::vector<std::string> scopes;
  for (auto& item : clientScopes(client))
    if (!isOpenIdScope(item)) scopes.push_back(std::move(item));
  if (r.scope) {
    const auto asked = scopeItems(*r.scope);
    if (!allIn(asked, scopes))
      return fail(OpErrc::InvalidScope, "The client may not ask for that scope.");
    scopes = asked;
  }
  // RFC 9068 §2.2: with no resource owner, sub is the client.
  TokenSubject subject{client.client_id, client.client_id, joinScopes(scopes), {}, 0, {}};
  auto access = d_.tokens.accessToken(subject);
  if (!access)
    return fail(OpErrc::ServerError, "The server could not answer.", access.error().message);
  return json::object{{"access_token", access->token},
                      {"token_type", "Bearer"},
                      {"expires_in", d_.tokens.settings().access_ttl.count()},
                      {"scope", subject.scope}};
}

Result<json::object> Provider::userinfo(std::string_view access_token) {
  // One check, as every bearer token gets it: signature (the provider's key set picked by kid),
  // revocation, the grant's end, the account's state. Only the provider's own tokens (they name
  // their client) are answered here.
  auto checked = d_.check.checkAccessToken(access_token);
  if (!checked) {
    if (checked.error().code == auth::Errc::Unavailable)
      return tl::unexpected(authFailed(checked.error()));
    return fail(OpErrc::InvalidToken, "The access token is not valid.", checked.error().detail);
  }
  auto who = d_.check.principalFor(std::move(*checked));
  if (!who) {
    if (who.error().code == auth::Errc::Unavailable || who.error().code == auth::Errc::Internal)
      return tl::unexpected(authFailed(who.error()));
    return fail(OpErrc::InvalidToken, "The access token is not valid.", who.error().detail);
  }
  if (who->client_id.empty())
    return fail(OpErrc::InvalidToken, "The access token is not valid.", "not the provider's token");
  // As the API's routes answer such a user's tokens (an unverified address only stops refresh).
  if (auth::enrolmentDue(*who->user, d_.settings.mfa_required_roles))
    return fail(OpErrc::InvalidToken, "The account must enrol a second factor first.");
  const auto& scopes = who->claims().scopes;
  if (!has(scopes, "openid"))
    return fail(OpErrc::InsufficientScope, "The token was not granted the openid scope.");
  json::object out = userClaims(*who->user, scopes);
  out["sub"] = who->claims().sub;
  return out;
}

Result<json::object> Provider::introspect(std::string_view token, const store::OpClient& client) {
  // A public client's id is no secret: introspection would tell anyone about its tokens.
  if (client.is_public)
    return fail(OpErrc::UnauthorizedClient, "Public clients cannot introspect tokens.");
  const json::object inactive{{"active", false}};
  if (auto claims = d_.tokens.verifyAccess(token)) {
    if (stringAt(claims->raw, "client_id") != client.client_id) return inactive;
    auto checked = d_.check.checkAccessToken(token);
    if (!checked) {
      if (checked.error().code == auth::Errc::Unavailable)
        return tl::unexpected(authFailed(checked.error()));
      return inactive;
    }
    std::string username;
    std::string scope = stringAt(claims->raw, "scope");
    if (auth::userIdOf(*claims)) {
      auto who = d_.check.principalFor(std::move(*checked));
      if (!who) {
        if (who.error().code == auth::Errc::Unavailable || who.error().code == auth::Errc::Internal)
          return tl::unexpected(authFailed(who.error()));
        return inactive;
      }
      // As userinfo and the API's routes answer it.
      if (auth::enrolmentDue(*who->user, d_.settings.mfa_required_roles)) return inactive;
      username = who->user->username;
      // What the token may do now: a permission taken from the user since is not shown.
      scope = joinScopes(permittedScopes(auth::splitScopes(scope), who->permissions));
    } else if (claims->iat.value_or(0) < client.secret_rotated_at) {
      // A machine token minted before the secret was rotated (rotated because it leaked): over
      // for every resource server that asks (an outside attack found it active to its end).
      return inactive;
    }
    json::object out{{"active", true},     {"token_type", "Bearer"},
                     {"scope", scope},     {"client_id", client.client_id},
                     {"sub", claims->sub}, {"iss", claims->iss},
                     {"exp", claims->exp}, {"iat", claims->iat.value_or(0)},
                     {"jti", claims->jti}};
    if (const auto* aud = claims->raw.if_contains("aud")) out["aud"] = *aud;
    if (!username.empty()) out["username"] = username;
    return out;
  }
  if (auto claims = d_.tokens.verifyRefresh(token)) {
    if (stringAt(claims->raw, "client_id") != client.client_id) return inactive;
    auto session = d_.store.sessions().find(stringAt(claims->raw, "sid"));
    if (!session) return tl::unexpected(storeFailed(session.error()));
    if (!*session || !(*session)->liveAt(d_.clock.unixSeconds()) ||
        (*session)->refresh_jti != claims->jti)
      return inactive;
    // As the next refresh would answer: without the permissions the user has lost since.
    const auto user_id = auth::userIdOf(*claims);
    auto user = user_id ? d_.store.users().findById(*user_id)
                        : core::Result<std::optional<store::User>>(std::nullopt);
    if (!user) return tl::unexpected(storeFailed(user.error()));
    if (!*user || !(*user)->is_active) return inactive;
    if (accountDue(**user)) return inactive;  // as the next refresh would answer
    const std::string scope =
        joinScopes(permittedScopes(auth::splitScopes(stringAt(claims->raw, "scope")),
                                   d_.check.policy().permissionsOf((*user)->role)));
    return json::object{{"active", true},     {"token_type", "refresh_token"},
                        {"scope", scope},     {"client_id", client.client_id},
                        {"sub", claims->sub}, {"iss", claims->iss},
                        {"exp", claims->exp}, {"iat", claims->iat.value_or(0)}};
  }
  return inactive;
}

Result<void> Provider::revoke(std::string_view token, const store::OpClient& client,
                              const auth::ClientInfo& origin) {
  if (auto claims = d_.tokens.verifyRefresh(token)) {
    if (stringAt(claims->raw, "client_id") != client.client_id) return {};
    const std::string sid = stringAt(claims->raw, "sid");
    // Nothing left to end: no write, no record (SessionEnd::sessionLive).
    auto live = d_.end.sessionLive(sid);
    if (!live) return tl::unexpected(authFailed(live.error()));
    if (!*live) return {};
    if (auto ended = d_.end.end(sid); !ended) return tl::unexpected(authFailed(ended.error()));
    record("op.token_revoked", origin, auth::userIdOf(*claims),
           {{"client_id", client.client_id}, {"token_type", "refresh_token"}});
    return {};
  }
  if (auto claims = d_.tokens.verifyAccess(token)) {
    if (stringAt(claims->raw, "client_id") != client.client_id || !d_.end.accessTokenLive(*claims))
      return {};
    if (auto ok = d_.revocations.revoke(claims->jti, claims->exp); !ok)
      return tl::unexpected(storeFailed(ok.error()));
    record("op.token_revoked", origin, auth::userIdOf(*claims),
           {{"client_id", client.client_id}, {"token_type", "access_token"}});
  }
  return {};
}

Result<LogoutPlan> Provider::checkLogout(const LogoutRequest& r) {
  LogoutPlan plan;
  std::string client_id = r.client_id.value_or("");
  if (r.id_token_hint) {
    auto hint = d_.tokens.verifyIdTokenHint(*r.id_token_hint);
    if (!hint) return fail(OpErrc::InvalidRequest, "The id_token_hint is not valid.");
    const auto* aud = hint->if_contains("aud");
    std::string hinted;
    if (aud != nullptr && aud->is_string()) hinted = std::string(aud->get_string());
    if (aud != nullptr && aud->is_array() && aud->get_array().size() == 1 &&
        aud->get_array()[0].is_string())
      hinted = std::string(aud->get_array()[0].get_string());
    if (!client_id.empty() && client_id != hinted)
      return fail(OpErrc::InvalidRequest, "client_id and id_token_hint disagree.");
    client_id = hinted;
    const std::string sub = stringAt(*hint, "sub");
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(sub.data(), sub.data() + sub.size(), id);
    if (ec == std::errc() && end == sub.data() + sub.size() && id > 0) plan.hint_user = id;
    plan.hint_auth_time = intAt(*hint, "auth_time");
  }
  std::optional<store::OpClient> client;
  if (!client_id.empty()) {
    auto found = d_.clients.find(client_id);
    if (!found) return tl::unexpected(storeFailed(found.error()));
    if (!*found) return fail(OpErrc::InvalidRequest, "The client is unknown.");
    client = std::move(*found);
    plan.client_name = client->name;
  }
  if (r.post_logout_redirect_uri) {
    // RP-Initiated Logout §3: only a URI registered for the client the request names.
    if (!client || !has(client->post_logout_redirect_uris, *r.post_logout_redirect_uri))
      return fail(OpErrc::InvalidRequest, "The post_logout_redirect_uri is not registered.");
    // One stored before today's rules is not followed (a review), but the person is still signed
    // out, as logout promises (a second review): the signed-out page instead of the redirect.
    if (redirectUriProblem(*r.post_logout_redirect_uri)) {
      spdlog::warn("client {}: a post-logout URI no longer allowed was not followed", client_id);
      return plan;
    }
    plan.redirect = withQuery(
        *r.post_logout_redirect_uri,
        {{"state", r.state && r.state->size() <= kMaxStateBytes ? std::string_view(*r.state)
                                                                : std::string_view()}});
  }
  return plan;
}

std::string Provider::formActionFor(std::string_view client_id, std::string_view redirect_uri) {
  auto found = d_.clients.find(client_id);
  if (!found || !*found || !redirectUriRegistered((*found)->redirect_uris, redirect_uri)) return {};
  return formActionSource(redirect_uri);
}

}  // namespace gatehouse::op
