#include "webauthn/passkey_service.hpp"

#include <algorithm>
#include <array>

#include <boost/json/serialize.hpp>

#include "core/base64url.hpp"
#include "core/log.hpp"
#include "core/strict_json.hpp"
#include "crypto/digest.hpp"
#include "crypto/hmac.hpp"
#include "crypto/random.hpp"

namespace gatehouse::webauthn {
namespace {

namespace json = boost::json;
using auth::Errc;
using auth::fail;

constexpr std::string_view kType = "webauthn";
constexpr std::size_t kNonceBytes = 16;
constexpr std::size_t kMacBytes = 16;
constexpr std::size_t kChallengeBytes = kNonceBytes + 8 + kMacBytes;
constexpr std::size_t kHandleBytes = 32;
constexpr std::size_t kMaxNameBytes = 64;
// base64url lengths of the largest accepted binary values, checked before decoding.
constexpr std::size_t kMaxIdChars = (kMaxCredentialIdBytes * 4 + 2) / 3;
constexpr std::size_t kMaxClientDataChars = (kMaxClientDataBytes * 4 + 2) / 3;
constexpr std::size_t kMaxAttestationChars = (kMaxAttestationObjectBytes * 4 + 2) / 3;
constexpr std::size_t kMaxAuthDataChars = (kMaxAuthenticatorDataBytes * 4 + 2) / 3;
constexpr std::size_t kMaxSignatureChars = (kMaxSignatureBytes * 4 + 2) / 3;
constexpr std::size_t kMaxHandleChars = 96;
constexpr std::array<std::string_view, 6> kTransports{"usb",      "nfc",    "ble",
                                                      "internal", "hybrid", "smart-card"};

std::string_view ceremonyName(Ceremony c) {
  switch (c) {
    case Ceremony::Register:
      return "register";
    case Ceremony::Login:
      return "login";
    case Ceremony::SecondFactor:
      return "mfa";
    case Ceremony::Reauthenticate:
      return "reauthenticate";
  }
  return "?";
}

std::string_view uvName(UserVerification uv) {
  switch (uv) {
    case UserVerification::Required:
      return "required";
    case UserVerification::Discouraged:
      return "discouraged";
    case UserVerification::Preferred:
      break;
  }
  return "preferred";
}

std::string_view refusalName(Refusal r) {
  switch (r) {
    case Refusal::Malformed:
      return "malformed";
    case Refusal::Ceremony:
      return "ceremony";
    case Refusal::Signature:
      return "signature";
    case Refusal::Attestation:
      return "attestation";
    case Refusal::CounterRegress:
      return "counter_regress";
  }
  return "?";
}

std::string bigEndian8(std::int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  return out;
}

std::int64_t fromBigEndian8(std::string_view b) {
  std::uint64_t v = 0;
  for (const char c : b) v = (v << 8U) | static_cast<unsigned char>(c);
  return static_cast<std::int64_t>(v);
}

// The parts of a PublicKeyCredential's JSON (credential.toJSON()), decoded; sizes checked
// before anything is decoded.
struct Parts {
  std::string raw_id;
  std::string client_data_json;
  std::string attestation_object;  // registration
  std::string authenticator_data;  // authentication
  std::string signature;
  std::optional<std::string> user_handle;
  json::array transports;
  std::optional<bool> discoverable;  // clientExtensionResults.credProps.rk, when the browser says
};

std::optional<std::string> decodedMember(const json::object& o, std::string_view key,
                                         std::size_t max_chars) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string() || v->get_string().size() > max_chars) return std::nullopt;
  return core::base64urlDecode(std::string_view(v->get_string()));
}

tl::expected<Parts, std::string> partsOf(const json::value& credential, bool registration) {
  if (!credential.is_object()) return tl::unexpected(std::string("credential is not an object"));
  const json::object& c = credential.get_object();
  const auto* type = c.if_contains("type");
  if (type == nullptr || !type->is_string() || type->get_string() != "public-key")
    return tl::unexpected(std::string("type is not public-key"));
  const auto* id = c.if_contains("id");
  const auto* raw = c.if_contains("rawId");
  if (id == nullptr || raw == nullptr || !id->is_string() || !raw->is_string() ||
      id->get_string() != raw->get_string())
    return tl::unexpected(std::string("id and rawId differ"));
  const auto* response = c.if_contains("response");
  if (response == nullptr || !response->is_object())
    return tl::unexpected(std::string("no response"));
  const json::object& r = response->get_object();
  Parts p;
  auto raw_id = decodedMember(c, "rawId", kMaxIdChars);
  auto client_data = decodedMember(r, "clientDataJSON", kMaxClientDataChars);
  if (!raw_id || raw_id->empty() || !client_data)
    return tl::unexpected(std::string("rawId or clientDataJSON malformed or too large"));
  p.raw_id = std::move(*raw_id);
  p.client_data_json = std::move(*client_data);
  if (registration) {
    if (const auto* ext = c.if_contains("clientExtensionResults");
        ext != nullptr && ext->is_object()) {
      const auto* props = ext->get_object().if_contains("credProps");
      const auto* rk =
          props != nullptr && props->is_object() ? props->get_object().if_contains("rk") : nullptr;
      if (rk != nullptr && rk->is_bool()) p.discoverable = rk->get_bool();
    }
    auto object = decodedMember(r, "attestationObject", kMaxAttestationChars);
    if (!object) return tl::unexpected(std::string("attestationObject malformed or too large"));
    p.attestation_object = std::move(*object);
    if (const auto* t = r.if_contains("transports"); t != nullptr && t->is_array()) {
      for (const auto& name : t->get_array()) {
        if (!name.is_string()) continue;
        const std::string_view n = name.get_string();
        if (std::find(kTransports.begin(), kTransports.end(), n) != kTransports.end() &&
            std::find(p.transports.begin(), p.transports.end(), name) == p.transports.end())
          p.transports.emplace_back(n);
      }
    }
    return p;
  }
  auto data = decodedMember(r, "authenticatorData", kMaxAuthDataChars);
  auto signature = decodedMember(r, "signature", kMaxSignatureChars);
  if (!data || !signature)
    return tl::unexpected(std::string("authenticatorData or signature malformed"));
  p.authenticator_data = std::move(*data);
  p.signature = std::move(*signature);
  if (const auto* h = r.if_contains("userHandle"); h != nullptr && !h->is_null()) {
    auto handle = decodedMember(r, "userHandle", kMaxHandleChars);
    if (!handle) return tl::unexpected(std::string("userHandle malformed"));
    p.user_handle = std::move(*handle);
  }
  return p;
}

std::optional<json::object> recordOf(const store::MfaFactor& f) {
  auto parsed = core::parseStrictJson(f.passkey, {.max_bytes = 16 * 1024, .max_depth = 4});
  if (!parsed || !parsed->is_object()) return std::nullopt;
  return std::move(parsed->get_object());
}

// Registration and reauthentication challenges belong to one user's session.
std::string sessionBinding(std::int64_t user_id, std::string_view sid) {
  return "u:" + std::to_string(user_id) + ":" + std::string(sid);
}

bool boolAt(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

json::object descriptor(const Passkey& pk) {
  json::object d{{"type", "public-key"}, {"id", pk.factor.credential_id}};
  if (const auto* t = pk.record.if_contains("transports"); t != nullptr && t->is_array())
    d["transports"] = *t;
  return d;
}

}  // namespace

Passkey passkeyOf(store::MfaFactor factor) {
  auto rec = recordOf(factor);
  return Passkey{std::move(factor), rec ? std::move(*rec) : json::object{}};
}

bool canSync(const Passkey& passkey) { return boolAt(passkey.record, "be"); }

std::string_view amrOf(const Passkey& passkey) {
  // Only what is proven: a key the authenticator says never leaves it (backup eligibility clear)
  // counts as hardware-secured when its attestation chained to the trust store; any other
  // (synced, or an unattested claim any software authenticator can make) as software-secured.
  const bool attested = boolAt(passkey.record, "attestation_trusted");
  return attested && !boolAt(passkey.record, "be") ? "hwk" : "swk";
}

json::object passkeyJson(const Passkey& pk) {
  const auto str = [&](std::string_view k) -> json::value {
    const auto* v = pk.record.if_contains(k);
    return v != nullptr && v->is_string() ? *v : json::value(nullptr);
  };
  const auto* transports = pk.record.if_contains("transports");
  return json::object{
      {"id", pk.factor.id},
      {"type", kType},
      {"name", pk.factor.name},
      {"created_at", core::rfc3339(pk.factor.created_at)},
      {"last_used_at",
       pk.factor.last_used_at ? json::value(core::rfc3339(*pk.factor.last_used_at)) : nullptr},
      {"aaguid", str("aaguid")},
      {"backup_eligible", boolAt(pk.record, "be")},
      {"backed_up", boolAt(pk.record, "bs")},
      {"discoverable",
       [&]() -> json::value {
         const auto* d = pk.record.if_contains("discoverable");
         return d != nullptr && d->is_bool() ? *d : json::value(nullptr);
       }()},
      {"transports", transports != nullptr && transports->is_array() ? *transports : json::array{}},
      {"attestation", str("attestation")}};
}

void PasskeyService::record(std::string type, const auth::ClientInfo& client,
                            std::optional<std::int64_t> actor, std::optional<std::int64_t> subject,
                            json::object detail) {
  d_.audit.record(auth::auditEvent(std::move(type), client, actor, subject, std::move(detail)));
}

std::string PasskeyService::userHandle(std::int64_t user_id) const {
  auto mac = crypto::hmac(crypto::Digest::Sha256, d_.settings.handle_key,
                          "gatehouse webauthn user " + std::to_string(user_id));
  return mac ? mac->substr(0, kHandleBytes) : std::string();
}

core::Result<std::string> PasskeyService::challengeMac(Ceremony ceremony, std::string_view binding,
                                                       std::string_view body) const {
  return crypto::hmac(crypto::Digest::Sha256, d_.settings.challenge_key,
                      "gatehouse webauthn challenge v2\n" + std::string(ceremonyName(ceremony)) +
                          "\n" + std::string(binding) + "\n" + std::string(body));
}

auth::Result<std::string> PasskeyService::newChallenge(Ceremony ceremony,
                                                       std::string_view binding) const {
  auto nonce = crypto::randomBytes(kNonceBytes);
  if (!nonce) return fail(Errc::Internal, "random source failed");
  // Its expiry in milliseconds: the one-time store compares the time it was made with when its
  // memory began (state::OneTimeStore::spend). v2 since then: a node of the version before read
  // the milliseconds as seconds, a challenge without expiry (found by a review); v1 ones fail the
  // MAC here, and these there.
  const std::int64_t expires_ms =
      d_.clock.unixMillis().count() + d_.settings.timeout_seconds * 1000;
  std::string body = *nonce + bigEndian8(expires_ms);
  auto mac = challengeMac(ceremony, binding, body);
  if (!mac) return fail(Errc::Internal, "challenge MAC failed");
  return body + mac->substr(0, kMacBytes);
}

auth::Result<void> PasskeyService::spendChallenge(std::string_view client_data_json,
                                                  Ceremony ceremony, std::string_view binding,
                                                  std::string& challenge) {
  auto c = challengeOf(client_data_json);
  if (!c || c->size() != kChallengeBytes) return fail(Errc::InvalidPasskey, "not our challenge");
  const std::string_view body = std::string_view(*c).substr(0, kNonceBytes + 8);
  auto mac = challengeMac(ceremony, binding, body);
  if (!mac || !crypto::constantTimeEquals(mac->substr(0, kMacBytes),
                                          std::string_view(*c).substr(kNonceBytes + 8)))
    return fail(Errc::InvalidPasskey, "challenge of another ceremony, user or session");
  const std::chrono::milliseconds now = d_.clock.unixMillis();
  const std::chrono::milliseconds expires(fromBigEndian8(body.substr(kNonceBytes)));
  if (expires < now) return fail(Errc::InvalidPasskey, "challenge expired");
  // Single use on every node: the first presentation is remembered until it would expire, and
  // one made before the store's memory began is refused (what was spent then is forgotten).
  auto fresh = d_.once.spend(
      "wa:" + core::hexEncode(crypto::sha256(*c)),
      std::chrono::duration_cast<std::chrono::seconds>(expires - now) + std::chrono::seconds(1),
      expires - std::chrono::seconds(d_.settings.timeout_seconds), now);
  if (!fresh) return fail(Errc::Unavailable, fresh.error().message);
  if (!*fresh) return fail(Errc::InvalidPasskey, "challenge replayed");
  challenge = std::move(*c);
  return {};
}

auth::Result<json::object> PasskeyService::registrationOptions(const store::User& user,
                                                               std::string_view sid) {
  // At the limit, before the ceremony: refused only at the end, the authenticator had made a
  // credential the server then refused (found by an outside attack), left on the device.
  auto factors = d_.store.mfa().listForUser(user.id);
  if (!factors) return tl::unexpected(auth::storeFailure(factors.error()));
  const auto confirmed = std::count_if(factors->begin(), factors->end(),
                                       [](const store::MfaFactor& f) { return f.confirmed; });
  if (confirmed >= d_.settings.max_factors) return fail(Errc::FactorLimit);
  auto challenge = newChallenge(Ceremony::Register, sessionBinding(user.id, sid));
  if (!challenge) return tl::unexpected(challenge.error());
  auto mine = list(user.id);
  if (!mine) return tl::unexpected(mine.error());
  json::array exclude;
  for (const auto& pk : *mine) exclude.push_back(descriptor(pk));
  json::array params;
  for (const CoseAlg a : d_.settings.rp.algorithms)
    params.push_back(json::object{{"type", "public-key"}, {"alg", static_cast<std::int64_t>(a)}});
  // Attestation is asked for when something can check it (a trust store).
  const bool direct = d_.settings.rp.trust != nullptr;
  return json::object{
      {"challenge", core::base64urlEncode(*challenge)},
      {"rp", json::object{{"id", d_.settings.rp.rp_id}, {"name", d_.settings.rp_name}}},
      {"user", json::object{{"id", core::base64urlEncode(userHandle(user.id))},
                            {"name", user.username},
                            {"displayName", user.username}}},
      {"pubKeyCredParams", std::move(params)},
      {"timeout", d_.settings.timeout_seconds * 1000},
      {"attestation", direct ? "direct" : "none"},
      {"authenticatorSelection",
       json::object{{"residentKey", "preferred"},
                    {"requireResidentKey", false},
                    {"userVerification", uvName(d_.settings.second_factor_uv)}}},
      {"excludeCredentials", std::move(exclude)},
      {"extensions", json::object{{"credProps", true}}}};
}

auth::Result<Registered> PasskeyService::registerPasskey(const store::User& user,
                                                         std::string_view sid, std::string name,
                                                         const json::value& credential,
                                                         const auth::ClientInfo& client) {
  const auto refused = [&](std::string_view reason,
                           std::string detail) -> auth::Result<Registered> {
    d_.metrics.mfa(metrics::Registry::Mfa::Failed);
    record("passkey.registration_failed", client, user.id, user.id,
           {{"reason", reason}, {"detail", detail}});
    return fail(Errc::PasskeyRejected, std::move(detail));
  };
  auto parts = partsOf(credential, true);
  if (!parts) return refused("malformed", parts.error());
  std::string challenge;
  if (auto spent = spendChallenge(parts->client_data_json, Ceremony::Register,
                                  sessionBinding(user.id, sid), challenge);
      !spent) {
    if (spent.error().code == Errc::Unavailable) return tl::unexpected(spent.error());
    return refused("challenge", spent.error().detail);
  }
  const bool uv = d_.settings.second_factor_uv == UserVerification::Required;
  auto made = verifyRegistration(d_.settings.rp, {challenge, uv}, parts->client_data_json,
                                 parts->attestation_object);
  if (!made) return refused(refusalName(made.error().refusal), made.error().detail);
  if (made->credential_id != parts->raw_id) return refused("malformed", "rawId differs");
  json::object rec{{"public_key", core::base64urlEncode(made->public_key)},
                   {"alg", static_cast<std::int64_t>(made->alg)},
                   {"aaguid", core::hexEncode(made->aaguid)},
                   {"be", made->backup_eligible},
                   {"bs", made->backed_up},
                   {"uv", made->user_verified},
                   {"transports", parts->transports},
                   {"attestation", made->attestation.fmt},
                   {"attestation_type", made->attestation.type},
                   {"attestation_trusted", made->attestation.trusted},
                   {"discoverable", parts->discoverable ? json::value(*parts->discoverable)
                                                        : json::value(nullptr)}};
  if (name.empty()) name = "Passkey";
  if (name.size() > kMaxNameBytes) name.resize(kMaxNameBytes);
  store::MfaFactor factor;
  factor.user_id = user.id;
  factor.type = std::string(kType);
  factor.name = std::move(name);
  factor.confirmed = true;
  factor.created_at = d_.clock.unixSeconds();
  factor.last_step = made->sign_count;
  factor.credential_id = core::base64urlEncode(made->credential_id);
  factor.passkey = json::serialize(rec);
  std::vector<std::string> hashes;
  auto codes = d_.mfa.newCodes(user.id, hashes);
  if (!codes) return tl::unexpected(codes.error());
  // A session that proved no second factor passed its check because the user had none: it adds
  // the first only, counted in the insert's transaction (a passkey attack: 8 of 8 finished at
  // once from a password-only session were taken).
  const std::int64_t room = user.mfa_enabled ? d_.settings.max_factors : 1;
  // The session is read in the insert's transaction: a reset by mail that ended it while this
  // waited for the user's lock is seen (a review: checked only after, the passkey was a way in
  // until its removal).
  auto added = d_.store.mfa().addConfirmed(factor, room, hashes, sid);
  if (!added) {
    if (added.error().code == core::Errc::Aborted)
      return fail(Errc::InvalidToken, "the registering session ended");
    if (added.error().code == core::Errc::AlreadyExists)
      return refused("credential_taken", "credential id already registered");
    if (added.error().code == core::Errc::ResourceExhausted)
      return user.mfa_enabled ? fail(Errc::FactorLimit)
                              : fail(Errc::StepUpRequired, "a factor was added meanwhile");
    return tl::unexpected(auth::storeFailure(added.error()));
  }
  d_.users.invalidate(user.id);
  d_.metrics.mfa(metrics::Registry::Mfa::Confirmed);
  record("passkey.registered", client, user.id, user.id,
         {{"factor_id", added->first.id},
          {"aaguid", rec["aaguid"]},
          {"attestation", made->attestation.type},
          {"backup_eligible", made->backup_eligible}});
  Registered out{{std::move(added->first), std::move(rec)}, std::nullopt};
  if (added->second) out.recovery_codes = std::move(*codes);
  return out;
}

auth::Result<json::object> PasskeyService::requestOptions(Ceremony ceremony,
                                                          std::string_view binding,
                                                          const std::vector<Passkey>& allow,
                                                          bool user_verification) {
  auto challenge = newChallenge(ceremony, binding);
  if (!challenge) return tl::unexpected(challenge.error());
  json::array allowed;
  for (const auto& pk : allow) allowed.push_back(descriptor(pk));
  return json::object{
      {"challenge", core::base64urlEncode(*challenge)},
      {"timeout", d_.settings.timeout_seconds * 1000},
      {"rpId", d_.settings.rp.rp_id},
      {"allowCredentials", std::move(allowed)},
      {"userVerification", user_verification ? "required" : uvName(d_.settings.second_factor_uv)}};
}

auth::Result<Passkey> PasskeyService::assertWith(const json::value& credential, Ceremony ceremony,
                                                 std::string_view binding,
                                                 std::optional<std::int64_t> owner,
                                                 bool user_verification,
                                                 const auth::ClientInfo& client, Errc refusal) {
  std::optional<std::int64_t> subject = owner;
  const auto refused = [&](std::string_view reason, std::string detail) -> auth::Result<Passkey> {
    d_.metrics.mfa(metrics::Registry::Mfa::Failed);
    record("passkey.failed", client, std::nullopt, subject,
           {{"ceremony", ceremonyName(ceremony)}, {"reason", reason}, {"detail", detail}});
    return fail(refusal, std::move(detail));
  };
  auto parts = partsOf(credential, false);
  if (!parts) return refused("malformed", parts.error());
  std::string challenge;
  if (auto spent = spendChallenge(parts->client_data_json, ceremony, binding, challenge); !spent) {
    if (spent.error().code == Errc::Unavailable) return tl::unexpected(spent.error());
    return refused("challenge", spent.error().detail);
  }
  auto found = d_.store.mfa().findByCredential(core::base64urlEncode(parts->raw_id));
  if (!found) return tl::unexpected(auth::storeFailure(found.error()));
  if (!*found || (*found)->type != kType)
    return refused("unknown_credential", "unknown credential");
  store::MfaFactor factor = std::move(**found);
  if (owner && factor.user_id != *owner)
    return refused("other_users_credential", "credential of another user");
  subject = factor.user_id;
  // Usernameless sign-in names the user by the handle; a handle, when sent, must be theirs.
  if (!parts->user_handle && ceremony == Ceremony::Login)
    return refused("malformed", "no user handle");
  if (parts->user_handle &&
      !crypto::constantTimeEquals(*parts->user_handle, userHandle(factor.user_id)))
    return refused("user_handle", "user handle of another user");
  auto rec = recordOf(factor);
  // A passkey added before the account's address was first proven (by a reset) signs in no more
  // on its own: it may be a squatter's (store::TokenEffect::ResetPassword). It stays a second
  // factor; removed and added again, it signs in again.
  if (ceremony == Ceremony::Login && rec && boolAt(*rec, "second_factor_only"))
    return refused("second_factor_only", "passkey kept as a second factor only");
  const auto* key = rec ? rec->if_contains("public_key") : nullptr;
  auto public_key = key != nullptr && key->is_string()
                        ? core::base64urlDecode(std::string_view(key->get_string()))
                        : std::nullopt;
  if (!public_key) {
    spdlog::error("passkey: the record of factor {} does not read", factor.id);
    return fail(Errc::Internal, "unreadable passkey record");
  }
  const StoredCredential stored{*public_key, static_cast<std::uint32_t>(factor.last_step),
                                boolAt(*rec, "be")};
  auto verified =
      verifyAssertion(d_.settings.rp, {challenge, user_verification}, stored,
                      parts->client_data_json, parts->authenticator_data, parts->signature);
  if (!verified) {
    if (verified.error().refusal == Refusal::CounterRegress) {
      d_.metrics.mfa(metrics::Registry::Mfa::Replayed);
      record("passkey.cloned", client, std::nullopt, factor.user_id,
             {{"factor_id", factor.id}, {"detail", verified.error().detail}});
      return fail(refusal, verified.error().detail);
    }
    return refused(refusalName(verified.error().refusal), verified.error().detail);
  }
  (*rec)["bs"] = verified->backed_up;
  if (verified->user_verified) (*rec)["uv"] = true;  // §7.2 step 24: uvInitialized
  const std::string updated = json::serialize(*rec);
  const std::int64_t now = d_.clock.unixSeconds();
  auto used =
      d_.store.mfa().useSignCount(factor.id, verified->sign_count, factor.passkey, updated, now);
  if (!used) return tl::unexpected(auth::storeFailure(used.error()));
  if (!*used) {
    // Removed meanwhile is no clone.
    auto still = d_.store.mfa().find(factor.id);
    if (!still) return tl::unexpected(auth::storeFailure(still.error()));
    if (!*still) return refused("unknown_credential", "removed while in use");
    // Nor a record changed meanwhile (a reset keeping it as a second factor only): this check
    // read the old one, and says nothing about the new.
    if ((*still)->passkey != factor.passkey)
      return refused("changed", "passkey record changed while in use");
    // Another use with a higher count won the race: the same counter twice is a clone's mark.
    d_.metrics.mfa(metrics::Registry::Mfa::Replayed);
    record("passkey.cloned", client, std::nullopt, factor.user_id,
           {{"factor_id", factor.id}, {"detail", "counter did not grow (raced)"}});
    return fail(refusal, "signature counter did not grow");
  }
  factor.last_step = verified->sign_count;
  factor.last_used_at = now;
  factor.passkey = updated;
  d_.metrics.mfa(metrics::Registry::Mfa::Verified);
  record("passkey.verified", client, factor.user_id, factor.user_id,
         {{"factor_id", factor.id}, {"ceremony", ceremonyName(ceremony)}});
  return Passkey{std::move(factor), std::move(*rec)};
}

auth::Result<json::object> PasskeyService::loginOptions() {
  return requestOptions(Ceremony::Login, "", {}, true);
}

auth::Result<auth::SignedIn> PasskeyService::login(const json::value& credential,
                                                   const auth::ClientInfo& client) {
  auto pk =
      assertWith(credential, Ceremony::Login, "", std::nullopt, true, client, Errc::InvalidPasskey);
  if (!pk) {
    d_.metrics.loginFailed();
    return tl::unexpected(pk.error());
  }
  const std::int64_t user_id = pk->factor.user_id;
  auto user = d_.store.users().findById(user_id);
  if (!user) return tl::unexpected(auth::storeFailure(user.error()));
  if (!*user) return fail(Errc::InvalidPasskey, "passkey of a deleted user");
  if (!(*user)->is_active) {
    d_.metrics.loginFailed();
    record("login.failed", client, std::nullopt, user_id,
           {{"reason", "inactive"}, {"method", "passkey"}});
    return fail(Errc::AccountDisabled);
  }
  if (d_.settings.email_verification_required && !(*user)->email_verified) {
    d_.metrics.loginFailed();
    record("login.failed", client, std::nullopt, user_id,
           {{"reason", "email_not_verified"}, {"method", "passkey"}});
    return fail(Errc::EmailNotVerified);
  }
  // The record looked at again once the account is read: a reset keeping the passkey as a second
  // factor only committed either before this look (refused here) or after the account was read
  // (the session's own check against that row then ends it). Looked at only before, a reset
  // committing between the use and the read let a squatter's passkey sign in after it (a review).
  auto again = d_.store.mfa().find(pk->factor.id);
  if (!again) return tl::unexpected(auth::storeFailure(again.error()));
  const auto now_record = *again ? recordOf(**again) : std::nullopt;
  if (!now_record || boolAt(*now_record, "second_factor_only")) {
    d_.metrics.loginFailed();
    record("login.failed", client, std::nullopt, user_id,
           {{"reason", "passkey_changed"}, {"method", "passkey"}});
    return fail(Errc::InvalidPasskey, "passkey removed or kept as a second factor meanwhile");
  }
  d_.metrics.loginSucceeded();
  record("login.succeeded", client, user_id, user_id,
         {{"method", "passkey"}, {"factor_id", pk->factor.id}});
  // The owner, verified (UV): codes MFA_LOCKOUT_THRESHOLD locked unlock, as the notice says (a
  // review: only a passkey as second factor did).
  d_.mfa.passkeySucceeded(**user, client);
  std::vector<std::string> scopes = d_.policy.permissionsOf((*user)->role);
  return auth::SignedIn{std::move(**user),
                        std::move(scopes),
                        {std::nullopt, {std::string(amrOf(*pk))}, d_.clock.unixSeconds()}};
}

auth::Result<json::object> PasskeyService::secondFactorOptions(std::string_view mfa_token,
                                                               const auth::ClientInfo& client) {
  auto user = d_.mfa.pendingUser(mfa_token, client);
  if (!user) return tl::unexpected(user.error());
  auto mine = list(user->id);
  if (!mine) return tl::unexpected(mine.error());
  if (mine->empty()) return fail(Errc::InvalidMfaCode, "the user has no passkey");
  return requestOptions(Ceremony::SecondFactor, core::hexEncode(crypto::sha256(mfa_token)), *mine,
                        d_.settings.second_factor_uv == UserVerification::Required);
}

auth::Result<auth::SignedIn> PasskeyService::secondFactor(std::string_view mfa_token,
                                                          const json::value& credential,
                                                          const auth::ClientInfo& client) {
  const std::string binding = core::hexEncode(crypto::sha256(mfa_token));
  const bool uv = d_.settings.second_factor_uv == UserVerification::Required;
  return d_.mfa.verifyWith(mfa_token, client,
                           [&](const store::User& user) -> auth::Result<std::string> {
                             // Counted before it is checked, per account and address.
                             if (auto ok = d_.mfa.countPasskeyAttempt(user, client); !ok)
                               return tl::unexpected(ok.error());
                             auto pk = assertWith(credential, Ceremony::SecondFactor, binding,
                                                  user.id, uv, client, Errc::InvalidMfaCode);
                             if (!pk) return tl::unexpected(pk.error());
                             d_.mfa.passkeySucceeded(user, client);
                             return std::string(amrOf(*pk));
                           });
}

auth::Result<json::object> PasskeyService::reauthenticationOptions(const store::User& user,
                                                                   std::string_view sid) {
  auto mine = list(user.id);
  if (!mine) return tl::unexpected(mine.error());
  if (mine->empty()) return fail(Errc::FactorNotFound);
  return requestOptions(Ceremony::Reauthenticate, sessionBinding(user.id, sid), *mine, true);
}

auth::Result<auth::SignedIn> PasskeyService::reauthenticate(const auth::Principal& who,
                                                            std::string_view sid,
                                                            const json::value& credential,
                                                            const auth::ClientInfo& client) {
  const std::int64_t user_id = who.user->id;
  // The account and the session from storage, before the proof: the new session's own check
  // compares against this row, so a reset committing before this read ended the session (refused
  // here) and one after it is seen by that check (a review: read after the proof and compared
  // with the token check's cached row, a reset in between left a fresh session after it).
  auto current = auth::currentAccount(d_.store, who);
  if (!current) {
    if (current.error().code != Errc::InvalidCredentials)
      return tl::unexpected(current.error());  // storage: as it is (503), not a refused proof
    record("reauthentication.failed", client, user_id, user_id,
           {{"reason", "account_changed"}, {"method", "passkey"}});
    return fail(Errc::InvalidPasskey, current.error().detail);
  }
  auto pk = assertWith(credential, Ceremony::Reauthenticate, sessionBinding(user_id, sid), user_id,
                       true, client, Errc::InvalidPasskey);
  if (!pk) return tl::unexpected(pk.error());
  record("reauthenticated", client, user_id, user_id, {{"method", "passkey"}});
  d_.mfa.passkeySucceeded(*current, client);
  std::vector<std::string> scopes = who.claims().scopes;
  return auth::SignedIn{
      std::move(*current), scopes, {scopes, {std::string(amrOf(*pk))}, d_.clock.unixSeconds()}};
}

auth::Result<std::vector<Passkey>> PasskeyService::list(std::int64_t user_id) {
  auto factors = d_.store.mfa().listForUser(user_id);
  if (!factors) return tl::unexpected(auth::storeFailure(factors.error()));
  std::vector<Passkey> out;
  for (auto& f : *factors) {
    if (f.confirmed && f.type == kType) out.push_back(passkeyOf(std::move(f)));
  }
  return out;
}

auth::Result<Passkey> PasskeyService::ownPasskey(const store::User& user, std::int64_t id) {
  auto found = d_.store.mfa().find(id);
  if (!found) return tl::unexpected(auth::storeFailure(found.error()));
  if (!*found || (*found)->user_id != user.id || (*found)->type != kType)
    return fail(Errc::FactorNotFound);
  return passkeyOf(std::move(**found));
}

auth::Result<Passkey> PasskeyService::rename(const store::User& user, std::int64_t id,
                                             std::string name, const auth::ClientInfo& client) {
  auto mine = ownPasskey(user, id);
  if (!mine) return tl::unexpected(mine.error());
  if (auto ok = d_.store.mfa().rename(id, user.id, name); !ok) {
    if (ok.error().code == core::Errc::NotFound) return fail(Errc::FactorNotFound);
    return tl::unexpected(auth::storeFailure(ok.error()));
  }
  record("passkey.renamed", client, user.id, user.id, {{"factor_id", id}});
  mine->factor.name = std::move(name);
  return mine;
}

auth::Result<void> PasskeyService::remove(const store::User& user, std::int64_t id,
                                          const auth::ClientInfo& client) {
  if (auto mine = ownPasskey(user, id); !mine) return tl::unexpected(mine.error());
  auto removed = d_.mfa.remove(user, id, client);
  if (!removed) return tl::unexpected(removed.error());
  return {};
}

}  // namespace gatehouse::webauthn
