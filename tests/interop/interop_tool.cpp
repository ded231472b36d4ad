// A small command-line face of jose/ and password/ for the Python interop tests
// (tests/interop/test_interop.py). Secrets come on stdin, never in argv.
//   interop_tool keygen ALG                 → private JWK (JSON) on stdout
//   interop_tool sign JWK_FILE < claims     → compact JWT
//   interop_tool verify JWK_FILE < token    → payload JSON, or exit 1 with the JwtError name
//   interop_tool hash bcrypt|argon2id < pw  → hash
//   interop_tool check HASH < pw            → exit 0 when it verifies, 1 otherwise
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include <boost/json/serialize.hpp>

#include "core/clock.hpp"
#include "core/strict_json.hpp"
#include "crypto/pkey.hpp"
#include "crypto/random.hpp"
#include "jose/jwk.hpp"
#include "jose/jwt.hpp"
#include "password/password_hasher.hpp"

namespace {

using namespace gatehouse;

std::string readAll(std::istream& in) {
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int fail(const std::string& why) {
  std::cerr << why << "\n";
  return 1;
}

core::Result<jose::Key> loadKey(const char* path) {
  std::ifstream in(path);
  auto doc = core::parseStrictJson(readAll(in));
  if (!doc || !doc->is_object())
    return core::makeError(core::Errc::InvalidArgument, "bad JWK file");
  return jose::keyFromJwk(doc->get_object());
}

int keygen(std::string_view alg_name) {
  const auto alg = jose::algorithmFromName(alg_name);
  if (!alg) return fail("unknown alg");
  core::Result<jose::Key> key = core::makeError(core::Errc::Internal, "");
  if (jose::isHmac(*alg)) {
    auto secret = crypto::randomBytes(crypto::digestSize(jose::algorithmDigest(*alg)));
    key = jose::Key::hmac(*alg, *secret);
  } else {
    core::Result<crypto::SharedPkey> pkey = core::makeError(core::Errc::Internal, "");
    switch (*alg) {
      case jose::Algorithm::Es256:
        pkey = crypto::generateEc(crypto::Curve::P256);
        break;
      case jose::Algorithm::Es384:
        pkey = crypto::generateEc(crypto::Curve::P384);
        break;
      case jose::Algorithm::Es512:
        pkey = crypto::generateEc(crypto::Curve::P521);
        break;
      case jose::Algorithm::EdDsa:
        pkey = crypto::generateEd25519();
        break;
      default:
        pkey = crypto::generateRsa(2048);
    }
    if (!pkey) return fail(pkey.error().message);
    key = jose::Key::asymmetric(*alg, *pkey);
  }
  if (!key) return fail(key.error().message);
  auto tp = jose::thumbprint(*key);
  auto jwk = jose::privateJwk(key->withKid(*tp));
  if (!jwk) return fail(jwk.error().message);
  std::cout << boost::json::serialize(*jwk) << "\n";
  return 0;
}

int sign(const char* path) {
  auto key = loadKey(path);
  if (!key) return fail(key.error().message);
  auto claims = core::parseStrictJson(readAll(std::cin));
  if (!claims || !claims->is_object()) return fail("claims must be a JSON object");
  auto token = jose::signJwt(*key, claims->get_object());
  if (!token) return fail(token.error().message);
  std::cout << *token << "\n";
  return 0;
}

int verify(const char* path) {
  auto key = loadKey(path);
  if (!key) return fail(key.error().message);
  auto keys = jose::KeySet::create({*key});
  if (!keys) return fail(keys.error().message);
  core::SystemClock clock;
  jose::JwtVerifier verifier(std::move(*keys), {}, clock);
  std::string token = readAll(std::cin);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  auto claims = verifier.verify(token);
  if (!claims) return fail(std::string(jose::jwtErrorName(claims.error())));
  std::cout << boost::json::serialize(claims->raw) << "\n";
  return 0;
}

int hash(std::string_view scheme) {
  password::HashPolicy policy;
  policy.scheme = scheme == "argon2id" ? password::Scheme::Argon2id : password::Scheme::Bcrypt;
  policy.bcrypt_cost = 10;
  auto hasher = password::PasswordHasher::create(policy);
  if (!hasher) return fail(hasher.error().message);
  auto h = hasher->hash(readAll(std::cin));
  if (!h) return fail(h.error().message);
  std::cout << *h << "\n";
  return 0;
}

int check(const char* encoded) {
  auto hasher = password::PasswordHasher::create({});
  if (!hasher) return fail(hasher.error().message);
  return hasher->verify(readAll(std::cin), encoded) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return fail("usage: interop_tool keygen|sign|verify|hash|check ARG"), 2;
  const std::string_view cmd = argv[1];
  if (cmd == "keygen") return keygen(argv[2]);
  if (cmd == "sign") return sign(argv[2]);
  if (cmd == "verify") return verify(argv[2]);
  if (cmd == "hash") return hash(argv[2]);
  if (cmd == "check") return check(argv[2]);
  return fail("unknown command"), 2;
}
