#include "mfa/mfa_service.hpp"

#include <algorithm>

#include <boost/json/serialize.hpp>

#include "core/ascii.hpp"
#include "core/base64url.hpp"
#include "core/ip_address.hpp"
#include "core/log.hpp"
#include "core/strict_json.hpp"
#include "crypto/aead.hpp"
#include "crypto/digest.hpp"
#include "crypto/hmac.hpp"
#include "crypto/random.hpp"
#include "mfa/base32.hpp"
#include "mfa/qr.hpp"
#include "mfa/totp.hpp"

namespace gatehouse::mfa {
namespace {

namespace json = boost::json;
using auth::Errc;
using auth::fail;

constexpr std::int64_t kMfaTokenSeconds = 300;
constexpr std::int64_t kStaleEnrolmentSeconds = 24 * 3600;
constexpr std::size_t kRecoveryCodes = 10;
constexpr std::size_t kRecoveryCodeChars = 10;  // 50 bits, shown as xxxxx-xxxxx
constexpr std::size_t kMaxCodeBytes = 64;
constexpr std::string_view kCodeAlphabet = "abcdefghijklmnopqrstuvwxyz234567";

std::string sealingAad(std::int64_t user_id) {
  // Bound to its user: a sealed secret copied to another user's row does not open.
  return "gatehouse totp secret v1 user " + std::to_string(user_id);
}

std::string limiterKey(std::int64_t user_id) { return "mfa:acct:" + std::to_string(user_id); }

// A passkey's answers from one address, counted apart from the codes (countPasskeyAttempt).
std::string passkeyCounter(std::int64_t user_id, const auth::ClientInfo& client) {
  return "mfa-passkey:acct-ip:" + std::to_string(user_id) + "|" + core::addressBucket(client.ip);
}

// A recovery code as typed, in its stored spelling: lower case, no dashes or spaces; nullopt
// unless it has the length and alphabet of one.
std::optional<std::string> normalisedRecoveryCode(std::string_view typed) {
  std::string out;
  for (const char ch : typed) {
    if (ch == '-' || ch == ' ') continue;
    const char c = core::lowerAscii(ch);
    if (kCodeAlphabet.find(c) == std::string_view::npos) return std::nullopt;
    out.push_back(c);
  }
  if (out.size() != kRecoveryCodeChars) return std::nullopt;
  return out;
}

std::string clientFingerprint(const auth::ClientInfo& client) {
  return core::hexEncode(crypto::sha256(client.ip + "\n" + client.user_agent));
}

}  // namespace

void MfaService::record(std::string type, const auth::ClientInfo& client,
                        std::optional<std::int64_t> actor, std::int64_t subject,
                        boost::json::object detail) {
  d_.audit.record(auth::auditEvent(std::move(type), client, actor, subject, std::move(detail)));
}

std::string MfaService::codeHash(std::int64_t user_id, std::string_view code) const {
  auto mac = crypto::hmac(crypto::Digest::Sha256, d_.settings.code_key,
                          std::to_string(user_id) + ":" + std::string(code));
  return mac ? core::hexEncode(*mac) : std::string();
}

std::optional<std::string> MfaService::openSecret(const store::MfaFactor& factor) const {
  const auto sealed = core::base64urlDecode(factor.secret);
  if (!sealed) return std::nullopt;
  return crypto::open(d_.settings.sealing_key, *sealed, sealingAad(factor.user_id));
}

auth::Result<std::vector<std::string>> MfaService::freshCodes(std::int64_t user_id,
                                                              std::vector<std::string>& hashes) {
  auto random = crypto::randomBytes(kRecoveryCodes * kRecoveryCodeChars);
  if (!random) return fail(Errc::Internal, "random source failed");
  std::vector<std::string> codes;
  hashes.clear();
  for (std::size_t i = 0; i < kRecoveryCodes; ++i) {
    std::string code;
    for (std::size_t j = 0; j < kRecoveryCodeChars; ++j) {
      // 256 is a multiple of 32: every character is equally likely.
      code.push_back(
          kCodeAlphabet[static_cast<unsigned char>((*random)[i * kRecoveryCodeChars + j]) %
                        kCodeAlphabet.size()]);
    }
    const std::string hash = codeHash(user_id, code);
    if (hash.empty()) return fail(Errc::Internal, "recovery code digest failed");
    hashes.push_back(hash);
    codes.push_back(code.substr(0, 5) + "-" + code.substr(5));
  }
  return codes;
}

auth::Result<Enrolment> MfaService::enrol(const store::User& user, std::string name,
                                          const auth::ClientInfo& client) {
  auto secret = newTotpSecret();
  if (!secret) return fail(Errc::Internal, secret.error().message);
  auto sealed = crypto::seal(d_.settings.sealing_key, *secret, sealingAad(user.id));
  if (!sealed) return fail(Errc::Internal, sealed.error().message);
  const std::int64_t now = d_.clock.unixSeconds();
  // Replaces the user's unfinished enrolment, if any (found by an outside attack: ten abandoned
  // ones held every place for a day, and no app or passkey could be added).
  auto factor = d_.store.mfa().create(
      {0, user.id, "totp", std::move(name), core::base64urlEncode(*sealed), false, now},
      d_.settings.max_factors);
  if (!factor) {
    if (factor.error().code == core::Errc::ResourceExhausted) return fail(Errc::FactorLimit);
    return tl::unexpected(auth::storeFailure(factor.error()));
  }
  Enrolment out;
  out.id = factor->id;
  out.secret = base32Encode(*secret);
  out.otpauth_uri = otpauthUri(d_.settings.issuer, user.email, out.secret);
  auto svg = qrSvg(out.otpauth_uri);
  if (!svg) return fail(Errc::Internal, svg.error().message);
  out.qr_svg = std::move(*svg);
  d_.metrics.mfa(metrics::Registry::Mfa::Enrolled);
  record("mfa.enrolled", client, user.id, user.id, {{"factor_id", factor->id}, {"type", "totp"}});
  return out;
}

auth::Result<std::optional<std::vector<std::string>>> MfaService::confirm(
    const store::User& user, std::int64_t id, std::string_view code,
    const auth::ClientInfo& client) {
  auto factor = d_.store.mfa().find(id);
  if (!factor) return tl::unexpected(auth::storeFailure(factor.error()));
  // An enrolment left unfinished for a day is dead (the next enrolment deletes it): its secret
  // may have sat on a screen or in a photo all that time.
  if (!*factor || (*factor)->user_id != user.id || (*factor)->confirmed ||
      (*factor)->created_at <= d_.clock.unixSeconds() - kStaleEnrolmentSeconds)
    return fail(Errc::FactorNotFound);
  const auto secret = openSecret(**factor);
  if (!secret) return fail(Errc::Internal, "a factor's secret does not open");
  const auto step = matchStep(*secret, code, d_.clock.unixSeconds());
  if (!step) {
    record("mfa.confirm_failed", client, user.id, user.id, {{"factor_id", id}});
    return fail(Errc::WrongConfirmationCode);
  }
  std::vector<std::string> hashes;
  auto codes = freshCodes(user.id, hashes);
  if (!codes) return tl::unexpected(codes.error());
  // The limit counts confirmed factors, in the confirming transaction: one confirmed after a
  // passkey filled the last place would be one too many (the review).
  // A session that proved no second factor passed its check because the user had none: it turns
  // on the first only, counted in the same transaction (a passkey attack: several finished at
  // once from a password-only session all passed the check made before).
  const std::int64_t room = user.mfa_enabled ? d_.settings.max_factors : 1;
  auto first = d_.store.mfa().confirm(id, user.id, *step, d_.clock.unixSeconds(), hashes, room);
  if (!first) {
    if (first.error().code == core::Errc::NotFound) return fail(Errc::FactorNotFound);
    if (first.error().code == core::Errc::ResourceExhausted)
      return user.mfa_enabled ? fail(Errc::FactorLimit)
                              : fail(Errc::StepUpRequired, "a factor was turned on meanwhile");
    return tl::unexpected(auth::storeFailure(first.error()));
  }
  d_.users.invalidate(user.id);
  d_.metrics.mfa(metrics::Registry::Mfa::Confirmed);
  record("mfa.confirmed", client, user.id, user.id,
         {{"factor_id", id}, {"recovery_codes_issued", *first}});
  if (!*first) return std::optional<std::vector<std::string>>{};
  return std::optional<std::vector<std::string>>(std::move(*codes));
}

auth::Result<Factors> MfaService::list(std::int64_t user_id) {
  auto all = d_.store.mfa().listForUser(user_id);
  if (!all) return tl::unexpected(auth::storeFailure(all.error()));
  auto left = d_.store.mfa().recoveryCodesLeft(user_id);
  if (!left) return tl::unexpected(auth::storeFailure(left.error()));
  Factors out;
  for (auto& f : *all) {
    if (f.confirmed) out.confirmed.push_back(std::move(f));
  }
  out.recovery_codes_left = *left;
  return out;
}

auth::Result<bool> MfaService::remove(const store::User& user, std::int64_t id,
                                      const auth::ClientInfo& client) {
  auto confirmed = d_.store.mfa().remove(id, user.id);
  if (!confirmed) {
    if (confirmed.error().code == core::Errc::NotFound) return fail(Errc::FactorNotFound);
    return tl::unexpected(auth::storeFailure(confirmed.error()));
  }
  d_.users.invalidate(user.id);
  d_.metrics.mfa(metrics::Registry::Mfa::Removed);
  record("mfa.removed", client, user.id, user.id, {{"factor_id", id}, {"confirmed", *confirmed}});
  return *confirmed;
}

auth::Result<std::vector<std::string>> MfaService::newRecoveryCodes(
    const store::User& user, const auth::ClientInfo& client) {
  auto factors = list(user.id);
  if (!factors) return tl::unexpected(factors.error());
  if (factors->confirmed.empty()) return fail(Errc::FactorNotFound, "no factor to recover");
  std::vector<std::string> hashes;
  auto codes = freshCodes(user.id, hashes);
  if (!codes) return tl::unexpected(codes.error());
  if (auto ok = d_.store.mfa().replaceRecoveryCodes(user.id, hashes); !ok)
    return tl::unexpected(auth::storeFailure(ok.error()));
  record("mfa.recovery_codes_regenerated", client, user.id, user.id);
  return codes;
}

auth::Result<std::int64_t> MfaService::reset(std::int64_t user_id,
                                             std::optional<std::int64_t> actor,
                                             const auth::ClientInfo& client,
                                             std::optional<std::string> role_is) {
  auto removed = d_.store.mfa().removeAll(
      user_id, role_is ? std::optional<std::string_view>(*role_is) : std::nullopt);
  // The role judged moved (a rare race: the caller asks again); the user went meanwhile.
  if (!removed && removed.error().code == core::Errc::Aborted)
    return fail(Errc::Unavailable, removed.error().message);
  if (!removed && removed.error().code == core::Errc::NotFound) return fail(Errc::UserNotFound);
  if (!removed) return tl::unexpected(auth::storeFailure(removed.error()));
  d_.users.invalidate(user_id);
  // A reset that removed no factor changed nothing worth a record (a review: repeated, it grew
  // the audit log at will).
  if (*removed == 0) return *removed;
  d_.limiter.reset(limiterKey(user_id));
  d_.metrics.mfa(metrics::Registry::Mfa::Reset);
  record("mfa.reset", client, actor, user_id, {{"confirmed_factors_removed", *removed}});
  return *removed;
}

auth::Result<std::string> MfaService::challenge(const auth::SignedIn& who,
                                                const auth::ClientInfo& client) {
  auto token = crypto::randomToken(32);
  if (!token) return fail(Errc::Internal, "random source failed");
  const std::int64_t now = d_.clock.unixSeconds();
  json::object pending{{"u", who.user.id},
                       {"c", clientFingerprint(client)},
                       // The account as it was: its watermark and its password hash's digest (a
                       // second change within the watermark's second still shows).
                       {"acct", auth::accountMark(who.user)},
                       // Read by the version before (a roll-out: without it, its nodes answered
                       // 500 to a token of this one); not read here.
                       {"tva", who.user.tokens_valid_after},
                       {"exp", now + kMfaTokenSeconds},
                       // The first proof's method: "pwd", or "ext" for an external provider.
                       {"m", who.grant.amr.empty() ? std::string("pwd") : who.grant.amr.front()}};
  if (who.grant.scope) {
    json::array scope;
    for (const auto& s : *who.grant.scope) scope.emplace_back(s);
    pending["scope"] = std::move(scope);
  }
  // An external sign-in's identity: unlinked before the second step, the token is void (an
  // unlinking changes no account mark: a review).
  if (who.identity_id) pending["iid"] = *who.identity_id;
  // Stored by digest: whoever reads the shared store cannot finish anyone's sign-in.
  auto stored = d_.once.putIfAbsent("mfa:" + core::hexEncode(crypto::sha256(*token)),
                                    json::serialize(pending),
                                    std::chrono::seconds(kMfaTokenSeconds), d_.clock.unixMillis());
  if (!stored) return fail(Errc::Unavailable, stored.error().message);
  if (!*stored) return fail(Errc::Internal, "mfa_token collision");
  record("login.mfa_required", client, std::nullopt, who.user.id);
  return std::move(*token);
}

auth::Result<auth::SignedIn> MfaService::verify(std::string_view mfa_token, std::string_view code,
                                                const auth::ClientInfo& client) {
  return verifyWith(mfa_token, client,
                    [&](const store::User& user) { return check(user, code, client); });
}

auth::Result<void> MfaService::countAttempt(const store::User& user,
                                            const auth::ClientInfo& client) {
  bool first = false;
  auto counted = d_.rates.hit({limiterKey(user.id)}, d_.settings.limit, client, "mfa", &first);
  if (!counted && first && d_.settings.on_repeated_failures)
    d_.settings.on_repeated_failures(user, client);
  return counted;
}

auth::Result<void> MfaService::countPasskeyAttempt(const store::User& user,
                                                   const auth::ClientInfo& client) {
  return d_.rates.hit({passkeyCounter(user.id, client)}, d_.settings.limit, client, "mfa-passkey");
}

void MfaService::passkeySucceeded(const store::User& user, const auth::ClientInfo& client) {
  d_.limiter.reset(limiterKey(user.id));
  d_.limiter.reset(passkeyCounter(user.id, client));
  clearCodeCount(user.id, client);
}

void MfaService::clearCodeCount(std::int64_t user_id, const auth::ClientInfo& client) {
  if (auto cleared = d_.store.mfa().clearCodeAttempts(user_id); !cleared)
    spdlog::error("request_id={} mfa: the codes' count of user {} was not cleared: {}",
                  client.request_id, user_id, cleared.error().message);
}

std::vector<std::string> MfaService::methods(std::int64_t user_id) {
  bool totp = false;
  bool passkey = false;
  if (auto factors = d_.store.mfa().listForUser(user_id)) {
    for (const auto& f : *factors) {
      if (!f.confirmed) continue;
      totp = totp || f.type == "totp";
      passkey = passkey || f.type == "webauthn";
    }
  } else {
    totp = true;  // storage hiccup: offer what the contract always offered
  }
  std::vector<std::string> out;
  if (passkey) out.emplace_back("webauthn");
  if (totp || !passkey) out.emplace_back("totp");
  out.emplace_back("recovery_code");
  return out;
}

auth::Result<MfaService::Pending> MfaService::openPending(const std::string& state,
                                                          const auth::ClientInfo& client,
                                                          bool spending) {
  auto parsed = core::parseStrictJson(state);
  if (!parsed || !parsed->is_object()) return fail(Errc::Internal, "unreadable mfa_token state");
  json::object pending = std::move(parsed->get_object());
  const auto* uid = pending.if_contains("u");
  const auto* fingerprint = pending.if_contains("c");
  const auto* mark = pending.if_contains("acct");
  const auto* exp = pending.if_contains("exp");
  if (uid == nullptr || !uid->is_int64() || fingerprint == nullptr || !fingerprint->is_string() ||
      exp == nullptr || !exp->is_int64())
    return fail(Errc::Internal, "unreadable mfa_token state");
  // A state written before the mark (an upgrade within the token's five minutes) is void.
  if (mark == nullptr || !mark->is_string())
    return fail(Errc::InvalidMfaCode, "mfa_token state without the account's mark");
  const std::int64_t user_id = uid->get_int64();
  // Bound to the client of the password step: elsewhere the token is spent, not usable.
  if (!crypto::constantTimeEquals(fingerprint->get_string(), clientFingerprint(client))) {
    if (spending) record("mfa.failed", client, std::nullopt, user_id, {{"reason", "other_client"}});
    return fail(Errc::InvalidMfaCode, "mfa_token presented by another client");
  }
  auto user = d_.store.users().findById(user_id);
  if (!user) return tl::unexpected(auth::storeFailure(user.error()));
  // A password change or deactivation since the password step voids it.
  if (!*user || !(*user)->is_active || !auth::stillMarked(**user, mark->get_string())) {
    if (spending) {
      d_.metrics.mfa(metrics::Registry::Mfa::Failed);
      record("mfa.failed", client, std::nullopt, user_id, {{"reason", "account_changed"}});
    }
    return fail(Errc::InvalidMfaCode, "account changed since the password step");
  }
  if (const auto* iid = pending.if_contains("iid"); iid != nullptr) {
    if (!iid->is_int64()) return fail(Errc::Internal, "unreadable mfa_token state");
    auto linked = d_.store.identities().listForUser(user_id);
    if (!linked) return tl::unexpected(auth::storeFailure(linked.error()));
    if (std::none_of(linked->begin(), linked->end(),
                     [&](const store::Identity& i) { return i.id == iid->get_int64(); })) {
      if (spending) {
        d_.metrics.mfa(metrics::Registry::Mfa::Failed);
        record("mfa.failed", client, std::nullopt, user_id, {{"reason", "identity_gone"}});
      }
      return fail(Errc::InvalidMfaCode, "the identity signed in with went since the first step");
    }
  }
  const std::int64_t expires = exp->get_int64();
  return Pending{std::move(**user), std::move(pending), expires};
}

auth::Result<store::User> MfaService::pendingUser(std::string_view mfa_token,
                                                  const auth::ClientInfo& client) {
  if (mfa_token.empty() || mfa_token.size() > 256)
    return fail(Errc::InvalidMfaCode, "malformed mfa_token");
  auto seen =
      d_.once.peek("mfa:" + core::hexEncode(crypto::sha256(mfa_token)), d_.clock.unixMillis());
  if (!seen) return fail(Errc::Unavailable, seen.error().message);
  if (!*seen) return fail(Errc::InvalidMfaCode, "unknown, used or expired mfa_token");
  auto pending = openPending(**seen, client, false);
  if (!pending) return tl::unexpected(pending.error());
  return std::move(pending->user);
}

auth::Result<auth::SignedIn> MfaService::verifyWith(std::string_view mfa_token,
                                                    const auth::ClientInfo& client,
                                                    const Proof& prove) {
  if (mfa_token.empty() || mfa_token.size() > 256)
    return fail(Errc::InvalidMfaCode, "malformed mfa_token");
  const std::string key = "mfa:" + core::hexEncode(crypto::sha256(mfa_token));
  const std::chrono::milliseconds now_ms = d_.clock.unixMillis();
  const std::int64_t now = std::chrono::floor<std::chrono::seconds>(now_ms).count();
  // Taken in one step: of two racing verifications (on any nodes) only one holds it.
  auto taken = d_.once.take(key, now_ms);
  if (!taken) return fail(Errc::Unavailable, taken.error().message);
  if (!*taken) return fail(Errc::InvalidMfaCode, "unknown, used or expired mfa_token");
  auto opened = openPending(**taken, client, true);
  if (!opened) return tl::unexpected(opened.error());
  store::User user = std::move(opened->user);
  const std::int64_t user_id = user.id;
  const json::object& pending = opened->state;
  auto method = prove(user);
  if (!method) {
    // A mistyped code may be typed again with the same token, within its five minutes (also after
    // a 429, once Retry-After has passed); every attempt counted against MFA_RATE_LIMIT.
    const std::int64_t left = opened->expires - now;
    if ((method.error().code == Errc::InvalidMfaCode || method.error().code == Errc::RateLimited) &&
        left > 0) {
      auto back = d_.once.putIfAbsent(key, **taken, std::chrono::seconds(left), now_ms);
      if (!back)
        spdlog::warn("mfa_token not restored after a wrong code: {}", back.error().message);
    }
    return tl::unexpected(method.error());
  }
  std::optional<std::vector<std::string>> scope;
  std::vector<std::string> scopes = d_.policy.permissionsOf(user.role);
  if (const auto* s = pending.if_contains("scope"); s != nullptr && s->is_array()) {
    std::vector<std::string> asked;
    for (const auto& v : s->get_array()) {
      if (v.is_string()) asked.emplace_back(v.get_string());
    }
    scopes = rbac::effectivePermissions(scopes, asked);
    scope = scopes;
  }
  std::string first = "pwd";
  if (const auto* m = pending.if_contains("m"); m != nullptr && m->is_string())
    first = std::string(m->get_string());
  // The sign-in is complete now (the first step recorded login.password_verified or
  // login.external_verified).
  d_.metrics.loginSucceeded();
  record("login.succeeded", client, user_id, user_id, {{"method", first + "+" + *method}});
  return auth::SignedIn{
      std::move(user), std::move(scopes), {std::move(scope), {first, *method}, now}};
}

auth::Result<std::string> MfaService::check(const store::User& user, std::string_view code,
                                            const auth::ClientInfo& client) {
  // Counted before it is checked, so parallel guesses cannot outrun the limit; a success clears
  // the count, so a user's own sign-ins never add up to a refusal (and its first refusal tells
  // the owner: Settings::on_repeated_failures).
  if (auto ok = countAttempt(user, client); !ok) return tl::unexpected(ok.error());
  // Then the hard cap: counted in the database before it is checked, on every node; locked
  // codes are not checked (answered as a wrong one, as a locked password is).
  auto counted = d_.store.mfa().countCodeAttempt(user.id, d_.settings.lockout_threshold);
  if (!counted) return tl::unexpected(auth::storeFailure(counted.error()));
  if (!*counted) return wrongCode(user, client, "locked");
  auto matched = matchCode(user, code, client);
  if (matched) {
    clearCodeCount(user.id, client);
  } else if (**counted >= d_.settings.lockout_threshold) {
    // Whatever failed it (a storage fault too): the count stands at the threshold, so the codes
    // are locked now, and said so (a review: only a wrong code said it).
    codesLocked(user, client);
  }
  return matched;
}

auth::Result<std::string> MfaService::wrongCode(const store::User& user,
                                                const auth::ClientInfo& client,
                                                const char* reason) {
  d_.metrics.mfa(metrics::Registry::Mfa::Failed);
  record("mfa.failed", client, std::nullopt, user.id, {{"reason", reason}});
  return fail(Errc::InvalidMfaCode, reason);
}

void MfaService::codesLocked(const store::User& user, const auth::ClientInfo& client) {
  d_.metrics.mfa(metrics::Registry::Mfa::Locked);
  record("mfa.locked", client, std::nullopt, user.id,
         {{"attempts", d_.settings.lockout_threshold}});
  if (d_.settings.on_codes_locked) d_.settings.on_codes_locked(user, client);
}

auth::Result<std::string> MfaService::matchCode(const store::User& user, std::string_view code,
                                                const auth::ClientInfo& client) {
  const std::int64_t now = d_.clock.unixSeconds();
  const auto failed = [&](const char* reason) { return wrongCode(user, client, reason); };
  if (code.size() > kMaxCodeBytes) return failed("malformed");
  if (code.size() == static_cast<std::size_t>(kTotpDigits) &&
      std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    auto factors = d_.store.mfa().listForUser(user.id);
    if (!factors) return tl::unexpected(auth::storeFailure(factors.error()));
    for (const auto& factor : *factors) {
      if (!factor.confirmed || factor.type != "totp") continue;  // a passkey has no code
      const auto secret = openSecret(factor);
      if (!secret) {
        spdlog::error("mfa: the secret of factor {} does not open", factor.id);
        continue;
      }
      const auto step = matchStep(*secret, code, now);
      if (!step) continue;
      // Each time step once per factor, on every node (RFC 6238 §5.2).
      auto fresh = d_.store.mfa().useStep(factor.id, *step, now);
      if (!fresh) return tl::unexpected(auth::storeFailure(fresh.error()));
      if (!*fresh) {
        d_.metrics.mfa(metrics::Registry::Mfa::Replayed);
        record("mfa.replayed", client, std::nullopt, user.id, {{"factor_id", factor.id}});
        return fail(Errc::InvalidMfaCode, "a time step already used");
      }
      d_.limiter.reset(limiterKey(user.id));
      d_.metrics.mfa(metrics::Registry::Mfa::Verified);
      record("mfa.verified", client, user.id, user.id,
             {{"factor_id", factor.id}, {"method", "otp"}});
      return std::string("otp");
    }
    return failed("wrong_code");
  }
  const auto recovery = normalisedRecoveryCode(code);
  if (!recovery) return failed("malformed");
  auto used = d_.store.mfa().useRecoveryCode(user.id, codeHash(user.id, *recovery), now);
  if (!used) return tl::unexpected(auth::storeFailure(used.error()));
  if (!*used) return failed("wrong_recovery_code");
  d_.limiter.reset(limiterKey(user.id));
  d_.metrics.mfa(metrics::Registry::Mfa::Verified);
  auto left = d_.store.mfa().recoveryCodesLeft(user.id);
  record("mfa.verified", client, user.id, user.id,
         {{"method", "recovery_code"}, {"recovery_codes_left", left ? *left : -1}});
  return std::string("rc");
}

}  // namespace gatehouse::mfa
