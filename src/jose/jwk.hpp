#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.hpp"
#include "jose/jwt_error.hpp"
#include "jose/key.hpp"

namespace gatehouse::jose {

// Imports a JWK (RFC 7517/7518/8037) as a Key bound to one algorithm. The algorithm is the JWK's
// `alg` or, when absent, `alg_if_absent`; both present must agree. Refused: keys meant for
// encryption (`use` ≠ "sig", encryption `key_ops`), kty/parameter mismatches, points not on the
// curve, weak RSA and short HMAC keys. `kid` defaults to the RFC 7638 thumbprint.
[[nodiscard]] core::Result<Key> keyFromJwk(const boost::json::object& jwk,
                                           std::optional<Algorithm> alg_if_absent = std::nullopt);

// Public JWK with kty, alg, use=sig and kid; never private members. Internal on export failure.
[[nodiscard]] core::Result<boost::json::object> publicJwk(const Key& key);
// The full JWK, private members included (for key files; never published).
[[nodiscard]] core::Result<boost::json::object> privateJwk(const Key& key);

// RFC 7638 SHA-256 thumbprint, base64url.
[[nodiscard]] core::Result<std::string> thumbprint(const Key& key);

// An immutable set of verification keys with distinct kids, all symmetric or all asymmetric
// (a mixed set invites key confusion). Thread-safe.
class KeySet {
 public:
  enum class Mode {
    Strict,        // any unusable key fails the whole set
    SkipUnusable,  // keys for other uses or algorithms are dropped (third-party JWKS)
  };

  // InvalidArgument for duplicate kids or mixed symmetric/asymmetric keys.
  [[nodiscard]] static core::Result<KeySet> create(std::vector<Key> keys);
  // Parses {"keys": [...]}; InvalidArgument when the document or (in Strict mode) a key is bad.
  // `alg`, when given, binds keys that carry no "alg" and makes keys of another algorithm unusable.
  [[nodiscard]] static core::Result<KeySet> fromJwks(const boost::json::value& jwks,
                                                     Mode mode = Mode::Strict,
                                                     std::optional<Algorithm> alg = std::nullopt);

  // The key a token with this header kid must verify with; UnknownKey when there is none or, with
  // no kid, when the set holds more than one key.
  [[nodiscard]] tl::expected<const Key*, JwtError> select(
      std::optional<std::string_view> kid) const;

  const std::vector<Key>& keys() const { return keys_; }
  // {"keys": [public JWKs]}; HMAC keys are never published.
  [[nodiscard]] core::Result<boost::json::object> toPublicJwks() const;

 private:
  explicit KeySet(std::vector<Key> keys) : keys_(std::move(keys)) {}
  std::vector<Key> keys_;
};

}  // namespace gatehouse::jose
