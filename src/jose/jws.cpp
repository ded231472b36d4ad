#include "jose/jws.hpp"

#include <algorithm>
#include <array>

#include <boost/json/serialize.hpp>

#include "core/ascii.hpp"
#include "core/base64url.hpp"

namespace gatehouse::jose {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxHeaderBytes = 2048;
constexpr std::size_t kMaxSignatureBytes = 1024;  // RSA-8192; larger signatures cannot be ours

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

  // Header and signature decode into stack buffers; both are bounded by the token cap, and a
  // header too big for the buffer is refused (no real header comes near it).
  std::array<char, kMaxHeaderBytes> header_buf;  // NOLINT(cppcoreguidelines-pro-type-member-init)
  const auto header_len =
      core::base64urlDecodeInto(header_b64, header_buf.data(), header_buf.size());
  if (!header_len) {
    return tl::unexpected(core::base64urlDecodedSize(header_b64).value_or(0) > kMaxHeaderBytes
                              ? JwtError::TooLarge
                              : JwtError::BadEncoding);
  }
  HeaderParseResult parsed = parseJwsHeader(std::string_view(header_buf.data(), *header_len));
  if (!parsed.header) {
    return tl::unexpected(parsed.error == HeaderParseError::BadMember ? JwtError::Malformed
                                                                      : JwtError::BadJson);
  }
  JwsHeader& header = *parsed.header;

  if (core::equalsIgnoringCase(header.alg, "none")) return tl::unexpected(JwtError::AlgNone);
  const auto alg = algorithmFromName(header.alg);
  if (!alg) return tl::unexpected(JwtError::UnknownAlgorithm);
  // RFC 8725 §3.10 and §2.6: never fetch or trust keys named by the token itself.
  if (header.has_key_source) return tl::unexpected(JwtError::ForbiddenHeader);
  // RFC 7515 §4.1.11: we implement no extensions, so any `crit` is not understood.
  if (header.has_crit) return tl::unexpected(JwtError::Unsupported);

  std::optional<std::string_view> kid;
  if (header.kid) kid = *header.kid;
  auto key = keys.select(kid);
  if (!key) return tl::unexpected(key.error());
  if ((*key)->algorithm() != *alg) return tl::unexpected(JwtError::AlgorithmMismatch);

  auto payload = core::base64urlDecode(payload_b64);
  std::array<char, kMaxSignatureBytes> sig_buf;  // NOLINT(cppcoreguidelines-pro-type-member-init)
  const auto sig_len = core::base64urlDecodeInto(signature_b64, sig_buf.data(), sig_buf.size());
  if (!payload || !sig_len) return tl::unexpected(JwtError::BadEncoding);
  if (!(*key)->verifyBytes(token.substr(0, second), std::string_view(sig_buf.data(), *sig_len))) {
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
