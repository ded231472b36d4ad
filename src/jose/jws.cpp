#include "jose/jws.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <boost/json/serialize.hpp>

#include "core/base64url.hpp"
#include "core/strict_json.hpp"

namespace gatehouse::jose {
namespace {

namespace json = boost::json;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

tl::expected<VerifiedJws, JwtError> verifyJws(std::string_view token, const KeySet& keys,
                                              const JwsLimits& limits) {
  if (token.size() > limits.max_token_bytes) return tl::unexpected(JwtError::TooLarge);
  if (token.empty()) return tl::unexpected(JwtError::Malformed);
  const auto dots = std::count(token.begin(), token.end(), '.');
  if (dots == 4) return tl::unexpected(JwtError::Unsupported);  // JWE (RFC 7516 §7.1)
  if (dots != 2) return tl::unexpected(JwtError::Malformed);
  const std::size_t first = token.find('.');
  const std::size_t second = token.find('.', first + 1);
  const std::string_view header_b64 = token.substr(0, first);
  const std::string_view payload_b64 = token.substr(first + 1, second - first - 1);
  const std::string_view signature_b64 = token.substr(second + 1);

  auto header_bytes = core::base64urlDecode(header_b64);
  if (!header_bytes) return tl::unexpected(JwtError::BadEncoding);
  auto header_value =
      core::parseStrictJson(*header_bytes, {.max_bytes = limits.max_token_bytes, .max_depth = 8});
  if (!header_value) return tl::unexpected(JwtError::BadJson);
  if (!header_value->is_object()) return tl::unexpected(JwtError::BadJson);
  json::object& header = header_value->get_object();

  const auto* alg_value = header.if_contains("alg");
  if (alg_value == nullptr || !alg_value->is_string()) return tl::unexpected(JwtError::Malformed);
  const std::string_view alg_name = alg_value->get_string();
  if (equalsIgnoreCase(alg_name, "none")) return tl::unexpected(JwtError::AlgNone);
  const auto alg = algorithmFromName(alg_name);
  if (!alg) return tl::unexpected(JwtError::UnknownAlgorithm);

  // RFC 8725 §3.10 and §2.6: never fetch or trust keys named by the token itself.
  static constexpr std::array<std::string_view, 4> kKeySources = {"jku", "x5u", "jwk", "x5c"};
  for (const auto name : kKeySources) {
    if (header.contains(name)) return tl::unexpected(JwtError::ForbiddenHeader);
  }
  // RFC 7515 §4.1.11: we implement no extensions, so any `crit` is not understood.
  if (header.contains("crit") || header.contains("b64"))
    return tl::unexpected(JwtError::Unsupported);

  std::optional<std::string_view> kid;
  if (const auto* k = header.if_contains("kid")) {
    if (!k->is_string()) return tl::unexpected(JwtError::Malformed);
    kid = std::string_view(k->get_string());
  }
  auto key = keys.select(kid);
  if (!key) return tl::unexpected(key.error());
  if ((*key)->algorithm() != *alg) return tl::unexpected(JwtError::AlgorithmMismatch);

  auto payload = core::base64urlDecode(payload_b64);
  auto signature = core::base64urlDecode(signature_b64);
  if (!payload || !signature) return tl::unexpected(JwtError::BadEncoding);
  if (!(*key)->verifyBytes(token.substr(0, second), *signature)) {
    return tl::unexpected(JwtError::BadSignature);
  }
  return VerifiedJws{std::move(header), std::move(*payload), *key};
}

core::Result<std::string> signJws(const Key& key, std::string_view payload, std::string_view typ) {
  json::object header;
  header["alg"] = algorithmName(key.algorithm());
  if (!typ.empty()) header["typ"] = typ;
  if (!key.kid().empty()) header["kid"] = key.kid();
  std::string out = core::base64urlEncode(json::serialize(header));
  out += '.';
  out += core::base64urlEncode(payload);
  auto signature = key.signBytes(out);
  if (!signature) return tl::unexpected(signature.error());
  out += '.';
  out += core::base64urlEncode(*signature);
  return out;
}

}  // namespace gatehouse::jose
