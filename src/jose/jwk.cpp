#include "jose/jwk.hpp"

#include <array>
#include <set>

#include "core/base64url.hpp"
#include "crypto/digest.hpp"
#include "crypto/pkey.hpp"

namespace gatehouse::jose {
namespace {

namespace json = boost::json;
using core::Errc;
using core::makeError;

std::optional<std::string_view> stringMember(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

// A base64url member: nullopt when absent; error when present but malformed.
core::Result<std::optional<std::string>> bytesMember(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr) return std::optional<std::string>{};
  if (!v->is_string())
    return makeError(Errc::InvalidArgument, "JWK member " + std::string(name) + " is not a string");
  auto decoded = core::base64urlDecode(v->get_string());
  if (!decoded)
    return makeError(Errc::InvalidArgument,
                     "JWK member " + std::string(name) + " is not base64url");
  return std::optional<std::string>(std::move(*decoded));
}

core::Result<std::string> requiredBytes(const json::object& o, std::string_view name) {
  auto v = bytesMember(o, name);
  if (!v) return tl::unexpected(v.error());
  if (!v->has_value()) return makeError(Errc::InvalidArgument, "JWK lacks " + std::string(name));
  return std::move(**v);
}

std::string optionalBytes(const json::object& o, std::string_view name, bool& ok) {
  auto v = bytesMember(o, name);
  if (!v) {
    ok = false;
    return {};
  }
  return v->value_or("");
}

core::Status checkIntendedUse(const json::object& jwk) {
  if (const auto* use = jwk.if_contains("use")) {
    if (!use->is_string() || use->get_string() != "sig") {
      return makeError(Errc::InvalidArgument, "JWK use is not \"sig\"");
    }
  }
  if (const auto* ops = jwk.if_contains("key_ops")) {
    if (!ops->is_array()) return makeError(Errc::InvalidArgument, "JWK key_ops is not an array");
    // RFC 7517 §4.3 allows other values; refuse only keys declared for encryption or derivation.
    static constexpr std::array<std::string_view, 6> kForeign = {
        "encrypt", "decrypt", "wrapKey", "unwrapKey", "deriveKey", "deriveBits"};
    for (const auto& op : ops->get_array()) {
      if (!op.is_string())
        return makeError(Errc::InvalidArgument, "JWK key_ops member is not a string");
      for (const auto foreign : kForeign) {
        if (op.get_string() == foreign)
          return makeError(Errc::InvalidArgument, "JWK key_ops is not for signatures");
      }
    }
  }
  return {};
}

core::Result<crypto::SharedPkey> pkeyFromJwk(const json::object& jwk, std::string_view kty) {
  bool ok = true;
  if (kty == "RSA") {
    crypto::RsaComponents c;
    auto n = requiredBytes(jwk, "n");
    auto e = requiredBytes(jwk, "e");
    if (!n) return tl::unexpected(n.error());
    if (!e) return tl::unexpected(e.error());
    c.n = std::move(*n);
    c.e = std::move(*e);
    c.d = optionalBytes(jwk, "d", ok);
    c.p = optionalBytes(jwk, "p", ok);
    c.q = optionalBytes(jwk, "q", ok);
    c.dp = optionalBytes(jwk, "dp", ok);
    c.dq = optionalBytes(jwk, "dq", ok);
    c.qi = optionalBytes(jwk, "qi", ok);
    if (!ok) return makeError(Errc::InvalidArgument, "JWK RSA private member is not base64url");
    if (!c.d.empty() &&
        (c.p.empty() || c.q.empty() || c.dp.empty() || c.dq.empty() || c.qi.empty())) {
      return makeError(Errc::InvalidArgument, "RSA private JWK needs p, q, dp, dq and qi");
    }
    return crypto::rsaFromComponents(c);
  }
  if (kty == "EC") {
    const auto crv = stringMember(jwk, "crv");
    const auto curve = crv ? crypto::curveFromJwkName(*crv) : std::nullopt;
    if (!curve) return makeError(Errc::InvalidArgument, "JWK EC curve missing or unsupported");
    crypto::EcComponents c;
    c.curve = *curve;
    auto x = requiredBytes(jwk, "x");
    auto y = requiredBytes(jwk, "y");
    if (!x) return tl::unexpected(x.error());
    if (!y) return tl::unexpected(y.error());
    c.x = std::move(*x);
    c.y = std::move(*y);
    c.d = optionalBytes(jwk, "d", ok);
    if (!ok) return makeError(Errc::InvalidArgument, "JWK EC d is not base64url");
    return crypto::ecFromComponents(c);
  }
  if (kty == "OKP") {
    if (stringMember(jwk, "crv") != std::optional<std::string_view>("Ed25519")) {
      return makeError(Errc::InvalidArgument, "JWK OKP curve must be Ed25519");
    }
    crypto::OkpComponents c;
    auto x = requiredBytes(jwk, "x");
    if (!x) return tl::unexpected(x.error());
    c.x = std::move(*x);
    c.d = optionalBytes(jwk, "d", ok);
    if (!ok) return makeError(Errc::InvalidArgument, "JWK OKP d is not base64url");
    return crypto::ed25519FromComponents(c);
  }
  return makeError(Errc::InvalidArgument, "unsupported JWK kty");
}

core::Result<json::object> jwkMembers(const Key& key, bool include_private) {
  json::object o;
  const auto b64 = [](std::string_view s) { return json::string(core::base64urlEncode(s)); };
  if (key.isSymmetric()) {
    o["kty"] = "oct";
    if (include_private) o["k"] = b64(key.secret());
    return o;
  }
  switch (*crypto::keyType(key.pkey())) {
    case crypto::KeyType::Rsa: {
      auto c = crypto::rsaComponents(key.pkey(), include_private);
      if (!c) return tl::unexpected(c.error());
      o["kty"] = "RSA";
      o["n"] = b64(c->n);
      o["e"] = b64(c->e);
      if (!c->d.empty()) {
        o["d"] = b64(c->d);
        o["p"] = b64(c->p);
        o["q"] = b64(c->q);
        o["dp"] = b64(c->dp);
        o["dq"] = b64(c->dq);
        o["qi"] = b64(c->qi);
      }
      return o;
    }
    case crypto::KeyType::Ec: {
      auto c = crypto::ecComponents(key.pkey(), include_private);
      if (!c) return tl::unexpected(c.error());
      o["kty"] = "EC";
      o["crv"] = crypto::curveJwkName(c->curve);
      o["x"] = b64(c->x);
      o["y"] = b64(c->y);
      if (!c->d.empty()) o["d"] = b64(c->d);
      return o;
    }
    case crypto::KeyType::Ed25519: {
      auto c = crypto::ed25519Components(key.pkey(), include_private);
      if (!c) return tl::unexpected(c.error());
      o["kty"] = "OKP";
      o["crv"] = "Ed25519";
      o["x"] = b64(c->x);
      if (!c->d.empty()) o["d"] = b64(c->d);
      return o;
    }
  }
  return makeError(Errc::Internal, "unknown key type");
}

core::Result<json::object> exportJwk(const Key& key, bool include_private) {
  auto o = jwkMembers(key, include_private);
  if (!o) return o;
  (*o)["alg"] = algorithmName(key.algorithm());
  (*o)["use"] = "sig";
  if (!key.kid().empty()) (*o)["kid"] = key.kid();
  return o;
}

}  // namespace

core::Result<Key> keyFromJwk(const json::object& jwk, std::optional<Algorithm> alg_if_absent) {
  const auto kty = stringMember(jwk, "kty");
  if (!kty) return makeError(Errc::InvalidArgument, "JWK lacks kty");
  if (auto use = checkIntendedUse(jwk); !use) return tl::unexpected(use.error());

  std::optional<Algorithm> alg = alg_if_absent;
  if (const auto* a = jwk.if_contains("alg")) {
    const auto named = a->is_string() ? algorithmFromName(a->get_string()) : std::nullopt;
    if (!named) return makeError(Errc::InvalidArgument, "JWK alg is not a supported JWS algorithm");
    if (alg_if_absent && *alg_if_absent != *named) {
      return makeError(Errc::InvalidArgument, "JWK alg differs from the configured algorithm");
    }
    alg = named;
  }
  if (!alg) return makeError(Errc::InvalidArgument, "JWK has no alg and none was configured");

  std::string kid;
  if (const auto* k = jwk.if_contains("kid")) {
    if (!k->is_string()) return makeError(Errc::InvalidArgument, "JWK kid is not a string");
    kid = std::string(k->get_string());
  }

  core::Result<Key> key = makeError(Errc::Internal, "unreachable");
  if (*kty == "oct") {
    auto k = requiredBytes(jwk, "k");
    if (!k) return tl::unexpected(k.error());
    key = Key::hmac(*alg, std::move(*k), kid);
  } else {
    auto pkey = pkeyFromJwk(jwk, *kty);
    if (!pkey) return tl::unexpected(pkey.error());
    key = Key::asymmetric(*alg, std::move(*pkey), kid);
  }
  if (key && kid.empty()) {
    auto tp = thumbprint(*key);
    if (!tp) return tl::unexpected(tp.error());
    return key->withKid(std::move(*tp));
  }
  return key;
}

core::Result<json::object> publicJwk(const Key& key) {
  if (key.isSymmetric())
    return makeError(Errc::FailedPrecondition, "HMAC keys have no public form");
  return exportJwk(key, false);
}

core::Result<json::object> privateJwk(const Key& key) { return exportJwk(key, true); }

core::Result<std::string> thumbprint(const Key& key) {
  auto members = jwkMembers(key, key.isSymmetric());
  if (!members) return tl::unexpected(members.error());
  // RFC 7638 §3.2: required members only, lexicographic order, no whitespace. All values are
  // base64url or fixed names, so none needs escaping.
  const std::string_view kty = members->at("kty").get_string();
  std::vector<std::string_view> names;
  if (kty == "RSA") names = {"e", "kty", "n"};
  if (kty == "EC") names = {"crv", "kty", "x", "y"};
  if (kty == "OKP") names = {"crv", "kty", "x"};
  if (kty == "oct") names = {"k", "kty"};
  std::string canonical = "{";
  for (const auto name : names) {
    if (canonical.size() > 1) canonical += ',';
    canonical += '"';
    canonical += name;
    canonical += "\":\"";
    canonical += std::string_view(members->at(name).get_string());
    canonical += '"';
  }
  canonical += '}';
  return core::base64urlEncode(crypto::sha256(canonical));
}

core::Result<KeySet> KeySet::create(std::vector<Key> keys) {
  std::set<std::string> kids;
  bool any_symmetric = false;
  bool any_asymmetric = false;
  for (const auto& k : keys) {
    if (!kids.insert(k.kid()).second)
      return makeError(Errc::InvalidArgument, "duplicate kid in key set");
    (k.isSymmetric() ? any_symmetric : any_asymmetric) = true;
  }
  if (any_symmetric && any_asymmetric) {
    return makeError(Errc::InvalidArgument, "key set mixes HMAC and public keys");
  }
  return KeySet(std::move(keys));
}

core::Result<KeySet> KeySet::fromJwks(const json::value& jwks, Mode mode,
                                      std::optional<Algorithm> alg) {
  const auto* obj = jwks.if_object();
  const auto* list = obj != nullptr ? obj->if_contains("keys") : nullptr;
  if (list == nullptr || !list->is_array())
    return makeError(Errc::InvalidArgument, "JWKS lacks a keys array");
  std::vector<Key> keys;
  for (const auto& entry : list->get_array()) {
    if (!entry.is_object()) return makeError(Errc::InvalidArgument, "JWKS entry is not an object");
    auto key = keyFromJwk(entry.get_object(), alg);
    if (!key) {
      if (mode == Mode::SkipUnusable) continue;
      return tl::unexpected(key.error());
    }
    keys.push_back(std::move(*key));
  }
  return create(std::move(keys));
}

tl::expected<const Key*, JwtError> KeySet::select(std::optional<std::string_view> kid) const {
  if (!kid) {
    if (keys_.size() == 1) return &keys_.front();
    return tl::unexpected(JwtError::UnknownKey);
  }
  for (const auto& k : keys_) {
    if (k.kid() == *kid) return &k;
  }
  return tl::unexpected(JwtError::UnknownKey);
}

core::Result<json::object> KeySet::toPublicJwks() const {
  json::array list;
  for (const auto& k : keys_) {
    if (k.isSymmetric()) continue;
    auto jwk = publicJwk(k);
    if (!jwk) return tl::unexpected(jwk.error());
    list.emplace_back(std::move(*jwk));
  }
  json::object out;
  out["keys"] = std::move(list);
  return out;
}

}  // namespace gatehouse::jose
