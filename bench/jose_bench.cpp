// JOSE sign/verify next to the bare OpenSSL primitive on the same bytes (bench/run prints the
// ratios). "Ours/verify/X" is the whole token path: size cap, base64url, strict JSON header,
// key selection, signature; "Ours/jwt/X" adds the claims checks.
#include <memory>

#include <boost/json/serialize.hpp>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include "bench/ratio_reporter.hpp"
#include "core/base64url.hpp"
#include "core/clock.hpp"
#include "crypto/pkey.hpp"
#include "jose/jwt.hpp"

namespace {

using namespace gatehouse;

struct Fixture {
  jose::Key key;
  jose::KeySet keys;
  std::string token;
  std::string signing_input;
  std::string signature;  // raw bytes; DER for ECDSA so OpenSSL can take it as is
};

constexpr std::int64_t kNow = 1'800'000'000;

std::string typicalClaims() {
  boost::json::object c;
  c["sub"] = "12345";
  c["exp"] = kNow + 1800;
  c["iat"] = kNow;
  c["type"] = "access";
  c["scopes"] = boost::json::array{"users:read", "posts:read", "posts:write"};
  c["jti"] = "Yk3n0xQf2d9sV1Hc7u4PzA";
  c["iss"] = "gatehouse";
  return boost::json::serialize(c);
}

jose::Key makeKey(jose::Algorithm alg) {
  using jose::Algorithm;
  if (jose::isHmac(alg)) {
    return jose::Key::hmac(alg, std::string(crypto::digestSize(jose::algorithmDigest(alg)), 'k'),
                           "b")
        .value();
  }
  crypto::SharedPkey pkey;
  switch (alg) {
    case Algorithm::Es256:
      pkey = crypto::generateEc(crypto::Curve::P256).value();
      break;
    case Algorithm::Es384:
      pkey = crypto::generateEc(crypto::Curve::P384).value();
      break;
    case Algorithm::EdDsa:
      pkey = crypto::generateEd25519().value();
      break;
    default:
      pkey = crypto::generateRsa(2048).value();
  }
  return jose::Key::asymmetric(alg, pkey, "b").value();
}

std::string toDer(std::string_view p1363) {
  const auto half = static_cast<int>(p1363.size() / 2);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(
      sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(p1363.data()), half, nullptr),
      BN_bin2bn(reinterpret_cast<const unsigned char*>(p1363.data()) + half, half, nullptr));
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

const Fixture& fixture(jose::Algorithm alg) {
  static std::map<jose::Algorithm, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[alg];
  if (!slot) {
    jose::Key key = makeKey(alg);
    std::string token = jose::signJws(key, typicalClaims()).value();
    const std::size_t dot = token.rfind('.');
    std::string sig = *core::base64urlDecode(token.substr(dot + 1));
    if (jose::algorithmScheme(alg) == crypto::SigScheme::Ecdsa) sig = toDer(sig);
    slot = std::make_unique<Fixture>(
        Fixture{key, jose::KeySet::create({key}).value(), token, token.substr(0, dot), sig});
  }
  return *slot;
}

void oursVerify(benchmark::State& state, jose::Algorithm alg) {
  const Fixture& f = fixture(alg);
  for (auto _ : state) benchmark::DoNotOptimize(jose::verifyJws(f.token, f.keys));
}

void oursJwt(benchmark::State& state, jose::Algorithm alg) {
  const Fixture& f = fixture(alg);
  core::ManualClock clock(kNow);
  const jose::JwtVerifier verifier(f.keys, {.issuer = "gatehouse", .type = "access"}, clock);
  for (auto _ : state) benchmark::DoNotOptimize(verifier.verify(f.token));
}

void oursSign(benchmark::State& state, jose::Algorithm alg) {
  const Fixture& f = fixture(alg);
  const std::string claims = typicalClaims();
  for (auto _ : state) benchmark::DoNotOptimize(jose::signJws(f.key, claims));
}

// The bare primitive: HMAC from a pre-keyed EVP_MAC_CTX (the fastest OpenSSL 3 way), or
// EVP_DigestVerify/Sign on the same EVP_PKEY, over the same signing input.
EVP_MAC_CTX* keyedMac(const jose::Key& key) {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  const char* md = key.algorithm() == jose::Algorithm::Hs256   ? "SHA256"
                   : key.algorithm() == jose::Algorithm::Hs384 ? "SHA384"
                                                               : "SHA512";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(md), 0),
      OSSL_PARAM_construct_end()};
  EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.secret().data()),
               key.secret().size(), params);
  return ctx;
}

bool rawOnce(const Fixture& f, EVP_MAC_CTX* keyed, bool verify) {
  const auto* in = reinterpret_cast<const unsigned char*>(f.signing_input.data());
  if (keyed != nullptr) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed);
    unsigned char tag[64];
    std::size_t len = 0;
    EVP_MAC_update(ctx, in, f.signing_input.size());
    EVP_MAC_final(ctx, tag, &len, sizeof tag);
    EVP_MAC_CTX_free(ctx);
    return !verify || CRYPTO_memcmp(tag, f.signature.data(), len) == 0;
  }
  const jose::Algorithm alg = f.key.algorithm();
  const auto scheme = jose::algorithmScheme(alg);
  const EVP_MD* md =
      scheme == crypto::SigScheme::Ed25519 ? nullptr : crypto::evpMd(jose::algorithmDigest(alg));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  auto* pkey = const_cast<EVP_PKEY*>(f.key.pkey());
  bool ok = false;
  if (verify) {
    EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, pkey);
  } else {
    EVP_DigestSignInit(ctx, &pctx, md, nullptr, pkey);
  }
  if (scheme == crypto::SigScheme::RsaPss) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  if (verify) {
    ok = EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(f.signature.data()),
                          f.signature.size(), in, f.signing_input.size()) == 1;
  } else {
    unsigned char sig[512];
    std::size_t len = sizeof sig;
    ok = EVP_DigestSign(ctx, sig, &len, in, f.signing_input.size()) == 1;
  }
  EVP_MD_CTX_free(ctx);
  return ok;
}

void rawVerify(benchmark::State& state, jose::Algorithm alg) {
  const Fixture& f = fixture(alg);
  EVP_MAC_CTX* keyed = jose::isHmac(alg) ? keyedMac(f.key) : nullptr;
  if (!rawOnce(f, keyed, true)) state.SkipWithError("raw verify failed");
  for (auto _ : state) benchmark::DoNotOptimize(rawOnce(f, keyed, true));
  EVP_MAC_CTX_free(keyed);
}

void rawSign(benchmark::State& state, jose::Algorithm alg) {
  const Fixture& f = fixture(alg);
  EVP_MAC_CTX* keyed = jose::isHmac(alg) ? keyedMac(f.key) : nullptr;
  for (auto _ : state) benchmark::DoNotOptimize(rawOnce(f, keyed, false));
  EVP_MAC_CTX_free(keyed);
}

}  // namespace

int main(int argc, char** argv) {
  using jose::Algorithm;
  for (const Algorithm alg :
       {Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512, Algorithm::Rs256, Algorithm::Ps256,
        Algorithm::Es256, Algorithm::Es384, Algorithm::EdDsa}) {
    const std::string name(jose::algorithmName(alg));
    benchmark::RegisterBenchmark(("Ours/verify/" + name).c_str(), oursVerify, alg);
    benchmark::RegisterBenchmark(("Raw/verify/" + name).c_str(), rawVerify, alg);
    benchmark::RegisterBenchmark(("Ours/jwt/" + name).c_str(), oursJwt, alg);
    benchmark::RegisterBenchmark(("Raw/jwt/" + name).c_str(), rawVerify, alg);
    benchmark::RegisterBenchmark(("Ours/sign/" + name).c_str(), oursSign, alg);
    benchmark::RegisterBenchmark(("Raw/sign/" + name).c_str(), rawSign, alg);
  }
  benchmark::Initialize(&argc, argv);
  gatehouse::bench::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.printRatios();
  benchmark::Shutdown();
  return 0;
}
