#include "app/keys.hpp"

#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/pkey.hpp"
#include "crypto/random.hpp"

namespace gatehouse::app {
namespace {

using core::Errc;
using core::makeError;

core::Result<std::string> readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(Errc::Unavailable, "cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

core::Result<crypto::SharedPkey> generateFor(jose::Algorithm alg) {
  switch (jose::algorithmScheme(alg)) {
    case crypto::SigScheme::Ecdsa:
      return crypto::generateEc(alg == jose::Algorithm::Es256   ? crypto::Curve::P256
                                : alg == jose::Algorithm::Es384 ? crypto::Curve::P384
                                                                : crypto::Curve::P521);
    case crypto::SigScheme::Ed25519:
      return crypto::generateEd25519();
    default:
      return crypto::generateRsa(2048);
  }
}

}  // namespace

core::Status writeSecretFile(const std::filesystem::path& path, std::string_view contents,
                             bool overwrite) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return makeError(Errc::Unavailable, "cannot create " + path.parent_path().string());
  if (!overwrite && std::filesystem::exists(path))
    return makeError(Errc::AlreadyExists, path.string() + " exists");
  const std::filesystem::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return makeError(Errc::Unavailable, "cannot write " + tmp.string());
  ::fchmod(fd, 0600);
  const char* p = contents.data();
  std::size_t left = contents.size();
  bool ok = true;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n <= 0) {
      ok = false;
      break;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return makeError(Errc::Unavailable, "cannot write " + path.string());
  }
  return {};
}

core::Result<std::string> loadOrCreateSecret(const config::Config& config, bool* generated) {
  if (generated != nullptr) *generated = false;
  if (config.secret_key) return *config.secret_key;
  const auto path = config.data_dir / "secret_key";
  if (std::filesystem::exists(path)) return readFile(path);
  auto fresh = crypto::randomToken(64);
  if (!fresh) return tl::unexpected(fresh.error());
  if (auto ok = writeSecretFile(path, *fresh, false); !ok) {
    // Another process (a CLI command, a second node) may have just written it.
    if (std::filesystem::exists(path)) return readFile(path);
    return tl::unexpected(ok.error());
  }
  if (generated != nullptr) *generated = true;
  return *fresh;
}

core::Result<SigningKeys> loadOrCreateKeys(const config::Config& config) {
  const jose::Algorithm alg = config.algorithm;
  bool generated = false;
  if (jose::isHmac(alg)) {
    auto secret = loadOrCreateSecret(config, &generated);
    if (!secret) return tl::unexpected(secret.error());
    // A fixed kid: deriving it from the secret would hand out a hash of it.
    auto key = jose::Key::hmac(alg, *secret, "hs1");
    if (!key) return makeError(Errc::InvalidArgument, "SECRET_KEY: " + key.error().message);
    auto set = jose::KeySet::create({*key});
    if (!set) return tl::unexpected(set.error());
    return SigningKeys{*key, std::move(*set), generated};
  }

  const auto path = config.data_dir / "signing_key.pem";
  crypto::SharedPkey pkey;
  if (std::filesystem::exists(path)) {
    auto pem = readFile(path);
    if (!pem) return tl::unexpected(pem.error());
    auto loaded = crypto::privateKeyFromPem(*pem);
    if (!loaded)
      return makeError(Errc::InvalidArgument, path.string() + ": " + loaded.error().message);
    pkey = *loaded;
  } else {
    auto fresh = generateFor(alg);
    if (!fresh) return tl::unexpected(fresh.error());
    auto pem = crypto::privateKeyToPem(fresh->get());
    if (!pem) return tl::unexpected(pem.error());
    if (auto ok = writeSecretFile(path, *pem, false); !ok) return tl::unexpected(ok.error());
    pkey = *fresh;
    generated = true;
  }
  auto key = jose::Key::asymmetric(alg, pkey);
  if (!key) {
    return makeError(Errc::InvalidArgument, path.string() + " does not fit ALGORITHM=" +
                                                std::string(jose::algorithmName(alg)) + ": " +
                                                key.error().message);
  }
  auto kid = jose::thumbprint(*key);
  if (!kid) return tl::unexpected(kid.error());
  jose::Key with_kid = key->withKid(*kid);
  auto set = jose::KeySet::create({with_kid});
  if (!set) return tl::unexpected(set.error());
  return SigningKeys{with_kid, std::move(*set), generated};
}

}  // namespace gatehouse::app
