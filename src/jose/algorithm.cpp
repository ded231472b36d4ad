#include "jose/algorithm.hpp"

#include <array>
#include <utility>

namespace gatehouse::jose {
namespace {

constexpr std::array<std::pair<Algorithm, std::string_view>, 13> kNames = {{
    {Algorithm::Hs256, "HS256"},
    {Algorithm::Hs384, "HS384"},
    {Algorithm::Hs512, "HS512"},
    {Algorithm::Rs256, "RS256"},
    {Algorithm::Rs384, "RS384"},
    {Algorithm::Rs512, "RS512"},
    {Algorithm::Ps256, "PS256"},
    {Algorithm::Ps384, "PS384"},
    {Algorithm::Ps512, "PS512"},
    {Algorithm::Es256, "ES256"},
    {Algorithm::Es384, "ES384"},
    {Algorithm::Es512, "ES512"},
    {Algorithm::EdDsa, "EdDSA"},
}};

}  // namespace

std::string_view algorithmName(Algorithm alg) {
  for (const auto& [a, name] : kNames) {
    if (a == alg) return name;
  }
  return "";
}

std::optional<Algorithm> algorithmFromName(std::string_view name) {
  for (const auto& [a, n] : kNames) {
    if (n == name) return a;
  }
  return std::nullopt;
}

bool isHmac(Algorithm alg) {
  return alg == Algorithm::Hs256 || alg == Algorithm::Hs384 || alg == Algorithm::Hs512;
}

crypto::Digest algorithmDigest(Algorithm alg) {
  switch (alg) {
    case Algorithm::Hs384:
    case Algorithm::Rs384:
    case Algorithm::Ps384:
    case Algorithm::Es384:
      return crypto::Digest::Sha384;
    case Algorithm::Hs512:
    case Algorithm::Rs512:
    case Algorithm::Ps512:
    case Algorithm::Es512:
      return crypto::Digest::Sha512;
    default:
      return crypto::Digest::Sha256;
  }
}

crypto::SigScheme algorithmScheme(Algorithm alg) {
  switch (alg) {
    case Algorithm::Ps256:
    case Algorithm::Ps384:
    case Algorithm::Ps512:
      return crypto::SigScheme::RsaPss;
    case Algorithm::Es256:
    case Algorithm::Es384:
    case Algorithm::Es512:
      return crypto::SigScheme::Ecdsa;
    case Algorithm::EdDsa:
      return crypto::SigScheme::Ed25519;
    default:
      return crypto::SigScheme::RsaPkcs1;
  }
}

}  // namespace gatehouse::jose
