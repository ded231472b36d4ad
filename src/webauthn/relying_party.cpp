#include "webauthn/relying_party.hpp"

#include <algorithm>

#include "core/base64url.hpp"
#include "core/strict_json.hpp"
#include "crypto/digest.hpp"
#include "webauthn/authenticator_data.hpp"

namespace gatehouse::webauthn {
namespace {

namespace json = boost::json;

tl::unexpected<Failure> refuse(Refusal why, std::string detail) {
  return tl::unexpected(Failure{why, std::move(detail)});
}

struct ClientData {
  std::string type;
  std::string challenge;  // decoded
  std::string origin;
  bool cross_origin = false;
  std::optional<std::string> top_origin;
};

Verified<ClientData> parseClientData(std::string_view text) {
  if (text.size() > kMaxClientDataBytes)
    return refuse(Refusal::Malformed, "clientDataJSON too large");
  auto parsed = core::parseStrictJson(text, {.max_bytes = kMaxClientDataBytes, .max_depth = 4});
  if (!parsed || !parsed->is_object())
    return refuse(Refusal::Malformed, "clientDataJSON is not a JSON object");
  const json::object& o = parsed->get_object();
  const auto str = [&](std::string_view k) -> const json::string* {
    const auto* v = o.if_contains(k);
    return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
  };
  const json::string* type = str("type");
  const json::string* challenge = str("challenge");
  const json::string* origin = str("origin");
  if (type == nullptr || challenge == nullptr || origin == nullptr)
    return refuse(Refusal::Malformed, "clientDataJSON without type, challenge or origin");
  ClientData out;
  out.type = std::string(*type);
  auto decoded = core::base64urlDecode(std::string_view(*challenge));
  if (!decoded) return refuse(Refusal::Malformed, "challenge is not base64url");
  out.challenge = std::move(*decoded);
  out.origin = std::string(*origin);
  if (const auto* co = o.if_contains("crossOrigin"); co != nullptr) {
    if (!co->is_bool()) return refuse(Refusal::Malformed, "crossOrigin is not a boolean");
    out.cross_origin = co->get_bool();
  }
  if (const auto* top = o.if_contains("topOrigin"); top != nullptr) {
    if (!top->is_string()) return refuse(Refusal::Malformed, "topOrigin is not a string");
    out.top_origin = std::string(top->get_string());
  }
  return out;
}

// Text a client sent, as the audit trail shows it: printable ASCII, at most 80 bytes.
std::string shown(std::string_view text) {
  std::string out;
  for (const char ch : text.substr(0, 80)) out.push_back(ch >= 0x20 && ch < 0x7f ? ch : '?');
  return text.size() > 80 ? out + "..." : out;
}

bool listed(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// §7.1 steps 7-10 / §7.2 steps 11-14: type, challenge, origin and the framing page.
Verified<ClientData> checkClientData(const RelyingParty& rp, const Expectation& expect,
                                     std::string_view text, std::string_view type) {
  auto c = parseClientData(text);
  if (!c) return tl::unexpected(c.error());
  if (c->type != type) return refuse(Refusal::Ceremony, "type is " + shown(c->type));
  if (expect.challenge.empty() || !crypto::constantTimeEquals(c->challenge, expect.challenge))
    return refuse(Refusal::Ceremony, "challenge mismatch");
  if (!listed(rp.origins, c->origin))
    return refuse(Refusal::Ceremony, "origin " + shown(c->origin));
  if (c->cross_origin || c->top_origin) {
    // Only pages the relying party expects to frame a ceremony (none unless configured).
    if (rp.top_origins.empty()) return refuse(Refusal::Ceremony, "cross-origin ceremony");
    if (c->top_origin && !listed(rp.top_origins, *c->top_origin))
      return refuse(Refusal::Ceremony, "top origin " + shown(*c->top_origin));
  }
  return c;
}

// The flags every ceremony checks (§7.1 steps 13-16, §7.2 steps 15-18).
Verified<AuthenticatorData> checkAuthData(const RelyingParty& rp, const Expectation& expect,
                                          std::string_view bytes) {
  auto data = parseAuthenticatorData(bytes);
  if (!data) return refuse(Refusal::Malformed, data.error().message);
  if (!crypto::constantTimeEquals(data->rp_id_hash, crypto::sha256(rp.rp_id)))
    return refuse(Refusal::Ceremony, "rpIdHash mismatch");
  if (!data->user_present) return refuse(Refusal::Ceremony, "user not present");
  if (expect.user_verification && !data->user_verified)
    return refuse(Refusal::Ceremony, "user not verified");
  return std::move(*data);
}

}  // namespace

std::optional<std::string> challengeOf(std::string_view client_data_json) {
  auto c = parseClientData(client_data_json);
  if (!c) return std::nullopt;
  return std::move(c->challenge);
}

Verified<NewCredential> verifyRegistration(const RelyingParty& rp, const Expectation& expect,
                                           std::string_view client_data_json,
                                           std::string_view attestation_object) {
  auto client = checkClientData(rp, expect, client_data_json, "webauthn.create");
  if (!client) return tl::unexpected(client.error());
  const std::string client_hash = crypto::sha256(client_data_json);
  if (attestation_object.size() > kMaxAttestationObjectBytes)
    return refuse(Refusal::Malformed, "attestationObject too large");
  auto object =
      cbor::decode(attestation_object, {.max_bytes = kMaxAttestationObjectBytes, .max_depth = 6});
  if (!object || object->map() == nullptr)
    return refuse(Refusal::Malformed,
                  object ? "attestationObject is not a map" : object.error().message);
  const cbor::Value* fmt = object->at("fmt");
  const cbor::Value* stmt = object->at("attStmt");
  const cbor::Value* auth = object->at("authData");
  if (fmt == nullptr || fmt->text() == nullptr || stmt == nullptr || auth == nullptr ||
      auth->bytes() == nullptr || object->map()->size() != 3)
    return refuse(Refusal::Malformed, "attestationObject needs exactly fmt, attStmt, authData");
  auto data = checkAuthData(rp, expect, *auth->bytes());
  if (!data) return tl::unexpected(data.error());
  if (!data->attested) return refuse(Refusal::Malformed, "no attested credential data");
  // An outside attack registered a key padded past what sign-in reads back: the passkey turned
  // the second factor on and could never be used.
  if (data->attested->public_key.size() > kMaxCoseKeyBytes)
    return refuse(Refusal::Malformed, "COSE key over 2048 bytes");
  auto key = coseKeyFrom(data->attested->public_key_map, KeyAge::New);
  if (!key) return refuse(Refusal::Malformed, key.error().message);
  if (std::find(rp.algorithms.begin(), rp.algorithms.end(), key->alg) == rp.algorithms.end())
    return refuse(Refusal::Ceremony, "algorithm not allowed");
  auto attestation = verifyAttestation(*fmt->text(), *stmt, *auth->bytes(), *data, *key,
                                       client_hash, rp.attestation, rp.trust);
  if (!attestation) return refuse(Refusal::Attestation, attestation.error().message);
  NewCredential out;
  out.credential_id = data->attested->credential_id;
  out.public_key = data->attested->public_key;
  out.alg = key->alg;
  out.sign_count = data->sign_count;
  out.aaguid = data->attested->aaguid;
  out.user_verified = data->user_verified;
  out.backup_eligible = data->backup_eligible;
  out.backed_up = data->backed_up;
  out.attestation = std::move(*attestation);
  return out;
}

Verified<Assertion> verifyAssertion(const RelyingParty& rp, const Expectation& expect,
                                    const StoredCredential& stored,
                                    std::string_view client_data_json,
                                    std::string_view authenticator_data,
                                    std::string_view signature) {
  auto client = checkClientData(rp, expect, client_data_json, "webauthn.get");
  if (!client) return tl::unexpected(client.error());
  auto data = checkAuthData(rp, expect, authenticator_data);
  if (!data) return tl::unexpected(data.error());
  if (data->attested) return refuse(Refusal::Malformed, "attested data in an assertion");
  // A credential's backup eligibility never changes (§6.1.3).
  if (data->backup_eligible != stored.backup_eligible)
    return refuse(Refusal::Ceremony, "backup eligibility changed");
  if (signature.empty() || signature.size() > kMaxSignatureBytes)
    return refuse(Refusal::Malformed, "signature size");
  auto key = coseKeyFromBytes(stored.public_key, KeyAge::Stored);
  if (!key) return refuse(Refusal::Malformed, "stored key: " + key.error().message);
  std::string signed_data(authenticator_data);
  signed_data += crypto::sha256(client_data_json);
  if (!verifySignature(*key, signed_data, signature))
    return refuse(Refusal::Signature, "signature invalid");
  // §7.2 step 22: with either counter non-zero, a count that did not grow means two
  // authenticators hold the key.
  if ((data->sign_count != 0 || stored.sign_count != 0) && data->sign_count <= stored.sign_count)
    return refuse(Refusal::CounterRegress, "signature counter " + std::to_string(data->sign_count) +
                                               " after " + std::to_string(stored.sign_count));
  return Assertion{data->sign_count, data->user_verified, data->backed_up};
}

}  // namespace gatehouse::webauthn
