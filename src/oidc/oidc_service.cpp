#include "oidc/oidc_service.hpp"

#include <algorithm>
#include <charconv>

#include <boost/json/serialize.hpp>

#include "auth/claims.hpp"
#include "auth/validation.hpp"
#include "core/base64url.hpp"
#include "core/log.hpp"
#include "core/strict_json.hpp"
#include "core/utf8.hpp"
#include "crypto/aead.hpp"
#include "crypto/digest.hpp"
#include "crypto/pkce.hpp"
#include "crypto/random.hpp"
#include "rbac/policy.hpp"

namespace gatehouse::oidc {
namespace {

namespace json = boost::json;
constexpr std::int64_t kTransactionSeconds = 600;
constexpr std::int64_t kCodeSeconds = 60;
constexpr std::string_view kCookieAad = "gatehouse oidc transaction v1";
// A linking's transaction is sealed apart: a node of an older version cannot open it (it fails
// closed, invalid_state) and never finishes a linking as a sign-in of whoever the identity is.
constexpr std::string_view kLinkAad = "gatehouse oidc link v1";

std::string claimString(const jose::Claims& c, std::string_view name) {
  const auto* v = c.raw.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The address the provider gave, "" when registration would refuse it (invisible characters, ...):
// such an address is not used at all.
std::string usableEmail(const jose::Claims& c) {
  std::string email = claimString(c, "email");
  if (!auth::emailProblem(email).empty()) email.clear();
  return email;
}

// The usable address when the provider says it verified it (`email_verified` true), else "".
std::string verifiedEmail(const jose::Claims& c) {
  const auto* verified = c.raw.if_contains("email_verified");
  if (verified == nullptr || !verified->is_bool() || !verified->get_bool()) return {};
  return usableEmail(c);
}

// A username from what the provider tells us: [A-Za-z0-9_.-], 3 to 28 characters.
std::string usernameBase(const jose::Claims& c) {
  std::string raw = claimString(c, "preferred_username");
  if (raw.empty()) raw = claimString(c, "email").substr(0, claimString(c, "email").find('@'));
  if (raw.empty()) raw = claimString(c, "name");
  std::string out;
  for (const char ch : raw) {
    if (std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '.' || ch == '-')
      out.push_back(ch);
    if (out.size() == 28) break;
  }
  if (out.size() < 3) out = "user" + out;
  return out;
}

}  // namespace

OidcService::OidcService(std::vector<config::OidcProvider> providers, HttpClient& http,
                         store::Store& store, auth::Sessions& sessions, audit::AuditLog& audit,
                         const core::Clock& clock, state::OneTimeStore& once, Settings settings)
    : http_(http),
      store_(store),
      sessions_(sessions),
      audit_(audit),
      clock_(clock),
      once_(once),
      settings_(std::move(settings)) {
  for (auto& p : providers) {
    std::string name = p.name;
    providers_.emplace(name, std::make_unique<Provider>(std::move(p), http_, clock_));
  }
}

std::string OidcService::redirectUri(const std::string& provider) const {
  return settings_.public_url + "/api/v1/auth/oauth/" + provider + "/callback";
}

bool OidcService::isCodeChallenge(std::string_view challenge) {
  return challenge.size() == 43 && core::base64urlDecode(challenge).has_value();
}

bool OidcService::isCodeVerifier(std::string_view verifier) {
  return crypto::isPkceValue(verifier);
}

core::Result<OidcService::Start> OidcService::begin(const std::string& name,
                                                    std::optional<std::string> portal_return,
                                                    std::optional<std::string> frontend_challenge,
                                                    std::optional<Linking> link) {
  Provider& provider = *providers_.at(name);
  const auto slot = provider.enter();
  if (!slot)
    return core::makeError(core::Errc::Unavailable, "too many sign-ins waiting on " + name);
  auto meta = provider.metadata();
  if (!meta) return tl::unexpected(meta.error());
  auto state = crypto::randomToken(32);
  auto nonce = crypto::randomToken(32);
  auto verifier = crypto::randomToken(32);  // RFC 7636 §4.1: 43 characters of base64url
  if (!state || !nonce || !verifier)
    return core::makeError(core::Errc::Internal, "random source failed");
  const std::string challenge = core::base64urlEncode(crypto::sha256(*verifier));  // §4.2 S256
  json::object tx{{"p", name},
                  {"s", *state},
                  {"n", *nonce},
                  {"v", *verifier},
                  {"e", clock_.unixSeconds() + kTransactionSeconds},
                  {"i", clock_.unixMillis().count()}};  // when it began, for the one-time store
  if (portal_return) tx["r"] = *portal_return;
  if (frontend_challenge) tx["fc"] = *frontend_challenge;
  if (link) {
    tx["lu"] = link->user_id;
    tx["ls"] = link->session_id;
  }
  auto sealed =
      crypto::seal(settings_.cookie_key, json::serialize(tx), link ? kLinkAad : kCookieAad);
  if (!sealed) return tl::unexpected(sealed.error());
  const auto& c = provider.config();
  std::string location = meta->authorization_endpoint;
  location += location.find('?') == std::string::npos ? '?' : '&';
  location += "response_type=code&client_id=" + formEncode(c.client_id) +
              "&redirect_uri=" + formEncode(redirectUri(name)) + "&scope=" + formEncode(c.scopes) +
              "&state=" + formEncode(*state) + "&nonce=" + formEncode(*nonce) +
              "&code_challenge=" + challenge + "&code_challenge_method=S256";
  return Start{std::move(location), core::base64urlEncode(*sealed)};
}

std::string OidcService::fail(const std::string& provider, const std::string& reason,
                              const std::string& raw_detail, const auth::ClientInfo& client,
                              std::optional<std::int64_t> subject) {
  // The browser sees only the reason; the detail goes to the log and the audit trail. It may
  // hold what the browser sent (the callback's error and iss parameters): cut, and made storable
  // text (an outside attack stored 7 KB, and invalid UTF-8 that emptied the record's detail).
  const std::string detail = core::storableText(raw_detail, kMaxDetailBytes);
  spdlog::info("request_id={} oauth_failure provider={} reason={} detail={}", client.request_id,
               provider, reason, detail);
  audit_.record({"oauth.failed",
                 client.request_id,
                 std::nullopt,
                 subject,
                 client.ip,
                 client.user_agent,
                 {{"provider", provider}, {"reason", reason}, {"detail", detail}}});
  return settings_.frontend_url + "/auth/callback#error=" + reason;
}

OidcService::Landing OidcService::landingOf(std::string_view location) const {
  Landing out;
  const std::string base = settings_.frontend_url + "/auth/callback#";
  if (!location.starts_with(base)) return out;
  const std::string_view fragment = location.substr(base.size());
  const auto eq = fragment.find('=');
  if (eq == std::string_view::npos) return out;
  const std::string_view key = fragment.substr(0, eq);
  std::string value(fragment.substr(eq + 1));
  if (key == "code") out.code = std::move(value);
  if (key == "mfa_token") out.mfa_token = std::move(value);
  if (key == "linked") out.linked = std::move(value);
  if (key == "error") out.error = std::move(value);
  return out;
}

std::string OidcService::complete(const std::string& name, const Callback& cb,
                                  const auth::ClientInfo& client, Begun* begun) {
  Provider& provider = *providers_.at(name);
  const auto param = [&](const char* key) -> std::string {
    const auto it = cb.params.find(key);
    return it == cb.params.end() ? std::string() : it->second;
  };
  // The state is checked before anything is sent to the provider.
  if (!cb.cookie) return fail(name, "invalid_state", "no transaction cookie", client);
  auto sealed = core::base64urlDecode(*cb.cookie);
  auto plain = sealed ? crypto::open(settings_.cookie_key, *sealed, kCookieAad) : std::nullopt;
  bool sealed_for_link = false;
  if (sealed && !plain) {
    plain = crypto::open(settings_.cookie_key, *sealed, kLinkAad);
    sealed_for_link = plain.has_value();
  }
  auto tx = plain ? core::parseStrictJson(*plain)
                  : core::Result<json::value>(core::makeError(core::Errc::InvalidArgument, ""));
  if (!tx || !tx->is_object())
    return fail(name, "invalid_state", "transaction cookie does not open", client);
  const auto& t = tx->get_object();
  const auto str = [&](const char* key) {
    const auto* v = t.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  std::optional<Linking> link;
  if (const auto* u = t.if_contains("lu"); u != nullptr && u->is_int64())
    link = Linking{u->get_int64(), str("ls")};
  if (begun != nullptr) {
    if (const auto* r = t.if_contains("r"); r != nullptr && r->is_string())
      begun->portal_return = std::string(r->get_string());
    begun->linking = link.has_value() || sealed_for_link;  // a linking lands on its page
  }
  if (link.has_value() != sealed_for_link)
    return fail(name, "invalid_state", "transaction sealed for another purpose", client);
  const auto* expiry = t.if_contains("e");
  const auto* began = t.if_contains("i");
  const std::int64_t now = clock_.unixSeconds();
  if (str("p") != name || expiry == nullptr || !expiry->is_int64() || expiry->get_int64() < now ||
      began == nullptr || !began->is_int64()) {
    return fail(name, "invalid_state", "transaction expired or for another provider", client);
  }
  const std::string state = str("s");
  if (param("state").empty() || !crypto::constantTimeEquals(param("state"), state)) {
    return fail(name, "invalid_state", "state does not match the transaction", client);
  }
  // Only a callback with its own transaction waits on the provider (one made up is answered
  // above), and only while it asks the provider (up to the ID token's check).
  auto slot = provider.enter();
  if (!slot)
    return fail(name, "provider_unavailable", "too many sign-ins waiting on the provider", client);
  // Remembered (by digest) until the transaction expires, on every node; one begun before the
  // store's memory began is refused (a spent one would be forgotten).
  auto fresh = once_.spend("state:" + core::hexEncode(crypto::sha256(state)),
                           std::chrono::seconds(expiry->get_int64() - now + 1),
                           std::chrono::milliseconds(began->get_int64()), clock_.unixMillis());
  if (!fresh) return fail(name, "server_error", fresh.error().message, client);
  if (!*fresh) return fail(name, "invalid_state", "state replayed", client);
  if (!param("error").empty())
    return fail(name, "access_denied", "provider said " + param("error"), client);
  auto meta = provider.metadata();
  if (!meta) return fail(name, "provider_unavailable", meta.error().message, client);
  // RFC 9207: the issuer parameter, when present (or promised), must be ours — mix-up defence.
  if ((!param("iss").empty() || meta->iss_parameter_supported) &&
      param("iss") != provider.config().issuer) {
    return fail(name, "invalid_issuer", "iss parameter " + param("iss"), client);
  }
  if (param("code").empty()) return fail(name, "invalid_request", "no code", client);

  const auto& c = provider.config();
  std::vector<std::pair<std::string, std::string>> form = {{"grant_type", "authorization_code"},
                                                           {"code", param("code")},
                                                           {"redirect_uri", redirectUri(name)},
                                                           {"code_verifier", str("v")}};
  std::vector<std::pair<std::string, std::string>> headers;
  if (meta->token_auth_basic) {
    headers.emplace_back(
        "Authorization",
        "Basic " + core::base64Encode(formEncode(c.client_id) + ":" + formEncode(c.client_secret)));
  } else {
    form.emplace_back("client_id", c.client_id);
    form.emplace_back("client_secret", c.client_secret);
  }
  auto response = http_.postForm(meta->token_endpoint, form, headers);
  if (!response) return fail(name, "provider_unavailable", response.error().message, client);
  auto body = core::parseStrictJson(response->body);
  const json::object* tokens = body && body->is_object() ? &body->get_object() : nullptr;
  const auto* id_token = tokens != nullptr ? tokens->if_contains("id_token") : nullptr;
  if (response->status != 200 || id_token == nullptr || !id_token->is_string()) {
    return fail(name, "token_exchange_failed",
                "token endpoint answered " + std::to_string(response->status), client);
  }
  std::string_view access_token;
  if (const auto* at = tokens->if_contains("access_token"); at != nullptr && at->is_string())
    access_token = at->get_string();
  auto claims = provider.verifyIdToken(id_token->get_string(), str("n"), access_token);
  if (!claims) {
    static constexpr const char* kWhy[] = {
        "signature",  "claims",           "nonce",           "azp", "stale",
        "no subject", "keys unavailable", "at_hash mismatch"};
    return fail(name, "invalid_id_token", kWhy[static_cast<int>(claims.error())], client);
  }
  slot.reset();
  if (link) return linkIdentity(provider, *claims, *link, cb.browser_session, client);
  std::string reason;
  auto user_id = resolveUser(provider, *claims, client, reason);
  if (!user_id)
    return fail(name, reason.empty() ? "server_error" : reason, user_id.error().message, client);

  // The second-factor methods the provider asserts, when the operator trusts it to (TRUST_AMR).
  std::vector<std::string> asserted;
  if (provider.config().trust_amr) {
    if (const auto* amr = claims->raw.if_contains("amr"); amr != nullptr && amr->is_array()) {
      for (const auto& m : amr->get_array()) {
        if (m.is_string() && auth::isSecondFactor(std::string_view(m.get_string())))
          asserted.emplace_back(m.get_string());
      }
    }
  }
  // A user with a second factor the provider did not vouch for is asked for it before any
  // exchange code exists: the browser lands with an mfa_token for POST /auth/mfa/verify.
  auto user = store_.users().findById(*user_id);
  if (!user) return fail(name, "server_error", user.error().message, client);
  if (*user && (*user)->is_active && (*user)->mfa_enabled && asserted.empty()) {
    if (settings_.mfa == nullptr)  // fail closed: never skip the factor
      return fail(name, "server_error", "no second-factor service", client);
    // Looked at before the proof is recorded (a review: a sign-in refused here was first recorded
    // as login.external_verified). The token's second step needs the identity still linked, so a
    // reset (or an unlinking) that commits after this look is seen there: checked only here, a
    // reset racing the sign-in let its holder finish with their own second factor (an outside
    // attack), and an unlinking changes no account mark at all (a review).
    auto signed_in = store_.identities().find(provider.config().issuer, claims->sub);
    if (!signed_in) return fail(name, "server_error", signed_in.error().message, client);
    if (!*signed_in || (*signed_in)->user_id != *user_id)
      return identityWent(name, provider.config().issuer, claims->sub, *user_id, client);
    auto who = sessions_.externalProof(*user_id, name, {}, client);
    if (!who) return fail(name, "server_error", who.error().detail, client);
    who->identity_id = (*signed_in)->id;
    auto token = settings_.mfa->challenge(*who, client);
    if (!token) return fail(name, "server_error", token.error().detail, client);
    return settings_.frontend_url + "/auth/callback#mfa_token=" + *token;
  }

  // The identity that signed in and the account's token watermark ride with the code: an
  // unlinking, a reset (which removes identities), a password change or a deactivation before the
  // exchange leaves the code worthless (an outside attack: a thief kept a fresh code in hand and
  // traded it after the administrator's reset removed the identity).
  auto identity = store_.identities().find(provider.config().issuer, claims->sub);
  if (!identity) return fail(name, "server_error", identity.error().message, client);
  if (!*user) return fail(name, "server_error", "the account signed in to is gone", client);
  if (!*identity || (*identity)->user_id != *user_id)
    return identityWent(name, provider.config().issuer, claims->sub, *user_id, client);
  auto code = crypto::randomToken(32);
  if (!code) return fail(name, "server_error", "random source failed", client);
  std::string methods;
  for (const auto& m : asserted) methods += " " + m;
  // The frontend's challenge rides with the code (an asserted method never holds '=').
  if (const std::string bound = str("fc"); !bound.empty()) methods += " S256=" + bound;
  methods += " iid=" + std::to_string((*identity)->id) + " acct=" + auth::accountMark(**user);
  // Stored by digest: whoever reads the shared store cannot trade a code.
  auto stored = once_.putIfAbsent("code:" + core::hexEncode(crypto::sha256(*code)),
                                  std::to_string(*user_id) + " " + name + methods,
                                  std::chrono::seconds(kCodeSeconds), clock_.unixMillis());
  if (!stored || !*stored)
    return fail(name, "server_error", stored ? "code collision" : stored.error().message, client);
  // Tokens never travel in a URL: the fragment carries a one-time code the frontend trades.
  return settings_.frontend_url + "/auth/callback#code=" + *code;
}

std::string OidcService::linkIdentity(const Provider& provider, const jose::Claims& claims,
                                      const Linking& link, const std::string& browser_session,
                                      const auth::ClientInfo& client) {
  const auto& c = provider.config();
  // Finished in the browser, and the live session, that began it: a transaction planted in
  // another browser (a sibling subdomain can set cookies) links nothing there, and a sign-out,
  // a password change or a deactivation meanwhile ends the linking too.
  if (browser_session.empty() || browser_session != link.session_id) {
    return fail(c.name, "invalid_state", "not finished in the session that began the linking",
                client, link.user_id);
  }
  // And from storage (the browser's session is checked through its cache): live, the user's.
  auto session = store_.sessions().find(link.session_id);
  if (!session) return fail(c.name, "server_error", session.error().message, client);
  if (!*session || !(*session)->liveAt(clock_.unixSeconds()) ||
      (*session)->user_id != link.user_id) {
    return fail(c.name, "invalid_state", "the session that began the linking has ended", client,
                link.user_id);
  }
  auto user = store_.users().findById(link.user_id);
  if (!user) return fail(c.name, "server_error", user.error().message, client);
  if (!*user || !(*user)->is_active)
    return fail(c.name, "invalid_state", "the account is gone or deactivated", client,
                link.user_id);
  const std::string done = settings_.frontend_url + "/auth/callback#linked=" + c.name;
  auto known = store_.identities().find(c.issuer, claims.sub);
  if (!known) return fail(c.name, "server_error", known.error().message, client);
  if (*known && (*known)->user_id == link.user_id) {  // linked already: what it proves now
    if (const auto proven = verifiedEmail(claims); (*known)->verified_email != proven) {
      if (auto ok = store_.identities().noteVerifiedEmail((*known)->id, proven); !ok)
        return fail(c.name, "server_error", ok.error().message, client, link.user_id);
    }
    return done;
  }
  // Another account's identity stays there (whoever proved it at the provider signs in to it);
  // the store refuses one linked elsewhere in the meantime alike.
  const auto in_use = [&] {
    return fail(c.name, "identity_in_use", "the identity is another account's", client,
                link.user_id);
  };
  if (*known) return in_use();
  const std::string email = usableEmail(claims);
  auto linked =
      store_.identities().linkByOwner({0, link.user_id, c.name, c.issuer, claims.sub, email,
                                       clock_.unixSeconds(), verifiedEmail(claims)},
                                      kMaxIdentitiesPerUser, link.session_id);
  if (!linked) {
    if (linked.error().code == core::Errc::AlreadyExists) return in_use();
    // Ended meanwhile (a reset, a sign-out): checked again in the store's transaction.
    if (linked.error().code == core::Errc::FailedPrecondition)
      return fail(c.name, "invalid_state", "the session that began the linking has ended", client,
                  link.user_id);
    if (linked.error().code == core::Errc::ResourceExhausted)
      return fail(c.name, "too_many_identities", "the account holds the most identities", client,
                  link.user_id);
    return fail(c.name, "server_error", linked.error().message, client, link.user_id);
  }
  // Which identity it is (an owner with several, or whoever looks into a stolen session, asks).
  announceLinked(
      **user, client,
      {{"provider", c.name}, {"by", "owner"}, {"identity_id", linked->id}, {"email", email}});
  return done;
}

std::string OidcService::identityWent(const std::string& name, const std::string& issuer,
                                      const std::string& subject, std::int64_t user_id,
                                      const auth::ClientInfo& client) {
  // Removed by a reset (or a password someone else set): the person is told to link it again;
  // unlinked by the owner: as any refusal of the joining.
  auto removed = store_.identities().removedFrom(issuer, subject);
  if (!removed) return fail(name, "server_error", removed.error().message, client, user_id);
  const bool by_reset = *removed && **removed == user_id;
  return fail(name, by_reset ? "identity_removed" : "account_exists",
              "the identity signed in with went meanwhile", client, user_id);
}

void OidcService::announceLinked(const store::User& user, const auth::ClientInfo& client,
                                 boost::json::object detail) {
  audit_.record({"identity.linked", client.request_id, user.id, user.id, client.ip,
                 client.user_agent, std::move(detail)});
  // A new way in, by the address or by the owner: its owner hears of it (a stolen session could
  // have added it).
  if (settings_.linked) settings_.linked(user, client);
}

core::Result<std::int64_t> OidcService::resolveUser(const Provider& provider,
                                                    const jose::Claims& claims,
                                                    const auth::ClientInfo& client,
                                                    std::string& reason) {
  const auto& c = provider.config();
  const std::string email = usableEmail(claims);
  const std::string proven = verifiedEmail(claims);
  const bool verified = !proven.empty();
  auto known = store_.identities().find(c.issuer, claims.sub);
  if (!known) return tl::unexpected(known.error());
  if (*known) {
    // What the provider verifies now: a reset setting the account's first password keeps the
    // identity only if it proved the account's address (store::TokenEffect::ResetPassword).
    if ((*known)->verified_email != proven) {
      if (auto ok = store_.identities().noteVerifiedEmail((*known)->id, proven); !ok)
        return tl::unexpected(ok.error());
    }
    return (*known)->user_id;
  }

  if (!email.empty()) {
    auto existing = store_.users().findByEmail(email);
    if (!existing) return tl::unexpected(existing.error());
    if (*existing) {
      // Looked at first, so that its answer says what to do whatever else refuses the joining.
      // An identity the account's owner unlinked stays unlinked: otherwise whoever holds it (the
      // mail that tells of a link says to unlink what one does not know) came back by its email
      // at their next sign-in (found by an outside review).
      // So does one a reset by mail (or a password someone else set) removed from it: its holder
      // may be the one the reset was for (an outside attack: a former mailbox thief's identity,
      // verified at their provider with the owner's address, linked itself back).
      auto unlinked = store_.identities().unlinkedBy((*existing)->id, c.issuer, claims.sub);
      if (!unlinked) return tl::unexpected(unlinked.error());
      if (*unlinked) {
        auto removed = store_.identities().removedFrom(c.issuer, claims.sub);
        if (!removed) return tl::unexpected(removed.error());
        const bool by_reset = *removed && **removed == (*existing)->id;
        reason = by_reset ? "identity_removed" : "account_exists";
        return core::makeError(core::Errc::AlreadyExists,
                               by_reset ? "a reset or a password set by someone else removed "
                                          "this identity from the account at its address"
                                        : "email belongs to an account whose owner unlinked "
                                          "this identity");
      }
      // Linking by email needs both sides to have proven the address: the provider's word that
      // it verified it, and the account's own verified email. Otherwise whoever registered the
      // address first (pre-account hijacking) or an attacker's provider account would share it.
      if (!verified || !settings_.link_verified_email || !(*existing)->email_verified) {
        reason = "account_exists";
        return core::makeError(core::Errc::AlreadyExists,
                               !verified ? "email belongs to an account; provider did not verify it"
                               : !settings_.link_verified_email
                                   ? "email belongs to an account; linking by it is off"
                                   : "email belongs to an account whose email is unverified");
      }
      // Nor to an account whose address was moved there since its last reset by mail: whoever
      // made it (and its password, passkeys, identities) may be someone else than this person,
      // who followed the confirmation link (an outside attack, and a review: unlinking the
      // maker's identity first got past the check below). A reset by mail ends that.
      if ((*existing)->address_moved) {
        reason = "account_exists";
        return core::makeError(core::Errc::AlreadyExists,
                               "email belongs to an account whose address was changed since its "
                               "last reset by mail");
      }
      // Nor to an account holding an identity that never proved the account's address: its
      // holder is not known to be the address's owner. A reset by mail removes such identities
      // (a first password too), or the owner does on the account page.
      auto held = store_.identities().listForUser((*existing)->id);
      if (!held) return tl::unexpected(held.error());
      for (const auto& other : *held) {
        if (!store::sameAddress(other.verified_email, (*existing)->email)) {
          reason = "account_exists";
          return core::makeError(
              core::Errc::AlreadyExists,
              "email belongs to an account holding an identity proven at another address");
        }
      }
      auto linked = store_.identities().create(
          {0, (*existing)->id, c.name, c.issuer, claims.sub, email, clock_.unixSeconds(), proven});
      if (!linked) return tl::unexpected(linked.error());
      announceLinked(**existing, client, {{"provider", c.name}});
      return (*existing)->id;
    }
  }
  // After the joining by address above (which refuses an identity removed from the account at its
  // address): an identity a reset (or a password someone else set) removed from an account that
  // still exists, active, within store::kRemovedIdentityDays, makes no account of its own: its
  // owner (who, say, moved the account's address or whose address at the provider changed) would
  // land in an empty second account holding it, which the account page could then not link back
  // (a review, and an outside attack). They sign in with the password and link it again; whoever
  // else held it (the one the reset was for) gets no account through it.
  auto removed = store_.identities().removedFrom(c.issuer, claims.sub);
  if (!removed) return tl::unexpected(removed.error());
  if (*removed) {
    reason = "identity_removed";
    return core::makeError(core::Errc::AlreadyExists,
                           "a reset or a password set by someone else removed this identity from "
                           "account " +
                               std::to_string(**removed) + ": link it again from there");
  }
  // Only an address the provider verified becomes the account's: an unverified one could be
  // anybody's, and its owner, finding it taken, would set a password by the reset link and share
  // the account with whoever signed in here (pre-account hijacking). Such users get a placeholder
  // (RFC 2606 .invalid) and prove an address of their own by the email-change flow.
  std::string user_email = verified ? proven : auth::placeholderAddress(claims.sub, c.name);
  bool own_placeholder = false;
  const std::string base = usernameBase(claims);
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::string username = base;
    if (attempt > 0 && attempt < 10) username += std::to_string(attempt + 1);
    if (attempt >= 10) username += "-" + core::hexEncode(crypto::randomBytes(3).value_or("xyz"));
    auto created = store_.identities().createUserWithIdentity(
        {user_email, username, "", std::string(rbac::kDefaultRole), true,
         verified && !email.empty()},
        {0, 0, c.name, c.issuer, claims.sub, email, 0, proven});
    if (created) {
      audit_.record({"user.registered",
                     client.request_id,
                     created->id,
                     created->id,
                     client.ip,
                     client.user_agent,
                     {{"provider", c.name}}});
      return created->id;
    }
    // A placeholder someone took before such addresses were refused (or an account of the same
    // subject made otherwise): a placeholder of its own instead, so the sign-in goes on.
    if (created.error().code == core::Errc::AlreadyExists &&
        created.error().conflict == core::Conflict::Email && user_email != email &&
        !own_placeholder) {
      own_placeholder = true;
      user_email = auth::placeholderAddress(
          claims.sub + "+" + core::hexEncode(crypto::randomBytes(4).value_or("xyzw")), c.name);
      --attempt;  // the same username again
      continue;
    }
    if (created.error().code != core::Errc::AlreadyExists ||
        created.error().conflict != core::Conflict::Username) {
      return tl::unexpected(created.error());
    }
  }
  return core::makeError(core::Errc::Internal, "no free username");
}

auth::Result<auth::SignedIn> OidcService::exchange(const std::string& code,
                                                   const auth::ClientInfo& client,
                                                   const std::optional<std::string>& verifier) {
  // Taken in one step: of two racing exchanges (on any nodes) only one gets it.
  auto pending = once_.take("code:" + core::hexEncode(crypto::sha256(code)), clock_.unixMillis());
  if (!pending) return auth::fail(auth::Errc::Unavailable, pending.error().message);
  if (!*pending) return auth::fail(auth::Errc::InvalidExchangeCode, "unknown or used code");
  // "<user id> <provider>[ <asserted method>...][ S256=<frontend challenge>] iid=<identity id>
  // acct=<auth::accountMark when issued>"
  std::vector<std::string> parts;
  for (std::size_t at = 0; at <= (*pending)->size();) {
    const auto space = (*pending)->find(' ', at);
    const auto end = space == std::string::npos ? (*pending)->size() : space;
    parts.push_back((*pending)->substr(at, end - at));
    at = end + 1;
  }
  std::int64_t user_id = 0;
  if (parts.size() < 2 ||
      std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), user_id).ec !=
          std::errc() ||
      user_id <= 0)
    return auth::fail(auth::Errc::InvalidExchangeCode, "malformed stored code");
  std::vector<std::string> methods;
  std::optional<std::string> bound;
  std::optional<std::int64_t> identity_id;
  std::optional<std::string> mark;
  const auto number = [](std::string_view digits) -> std::optional<std::int64_t> {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return n;
  };
  for (auto it = parts.begin() + 2; it != parts.end(); ++it) {
    if (it->starts_with("S256="))
      bound = it->substr(5);
    else if (it->starts_with("iid="))
      identity_id = number(std::string_view(*it).substr(4));
    else if (it->starts_with("acct="))
      mark = it->substr(5);
    else
      methods.push_back(*it);
  }
  // A code from before codes carried them (a node of the version before, a minute at most) is
  // refused: the person signs in again.
  if (!identity_id || !mark)
    return auth::fail(auth::Errc::InvalidExchangeCode, "code without its identity and mark");
  // Taken above either way: a wrong verifier spends the code.
  if (bound.has_value() != verifier.has_value())
    return auth::fail(auth::Errc::InvalidExchangeCode,
                      bound ? "code bound to a frontend challenge: no verifier"
                            : "a verifier for a code begun without a challenge");
  if (bound && !crypto::verifierMatches(*verifier, *bound))
    return auth::fail(auth::Errc::InvalidExchangeCode, "verifier does not match the challenge");
  // Still linked, and nothing ended the account's tokens since (judged by externalProof on the
  // row the session's post-check compares against): else the code is worthless.
  auto linked = store_.identities().listForUser(user_id);
  if (!linked) return tl::unexpected(auth::storeFailure(linked.error()));
  if (std::none_of(linked->begin(), linked->end(),
                   [&](const store::Identity& i) { return i.id == *identity_id; }))
    return auth::fail(auth::Errc::InvalidExchangeCode, "the identity was unlinked meanwhile");
  auto proof = sessions_.externalProof(user_id, parts[1], methods, client, mark);
  if (proof) proof->identity_id = *identity_id;
  return proof;
}

auth::Result<std::vector<store::Identity>> OidcService::identities(std::int64_t user_id) {
  auto list = store_.identities().listForUser(user_id);
  if (!list) return tl::unexpected(auth::storeFailure(list.error()));
  return std::move(*list);
}

auth::Result<void> OidcService::unlink(std::int64_t user_id, std::int64_t identity_id,
                                       const auth::ClientInfo& client) {
  auto ok = store_.identities().removeUnlessLast(identity_id, user_id);
  if (!ok) {
    if (ok.error().code == core::Errc::NotFound) return auth::fail(auth::Errc::IdentityNotFound);
    if (ok.error().code == core::Errc::FailedPrecondition)
      return auth::fail(auth::Errc::LastSignInMethod);
    return tl::unexpected(auth::storeFailure(ok.error()));
  }
  audit_.record(auth::auditEvent("identity.unlinked", client, user_id, user_id,
                                 {{"identity_id", identity_id}}));
  return {};
}

}  // namespace gatehouse::oidc
