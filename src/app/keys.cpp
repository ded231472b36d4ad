#include "app/keys.hpp"

#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base64url.hpp"
#include "crypto/aead.hpp"
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

namespace {

// The secret in `path`, or a fresh one written there (0600) once.
core::Result<std::string> loadOrCreateSecretFile(const std::filesystem::path& path,
                                                 bool* generated) {
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

}  // namespace

core::Result<std::string> loadOrCreateSecret(const config::Config& config, bool* generated) {
  if (generated != nullptr) *generated = false;
  if (config.secret_key) return *config.secret_key;
  return loadOrCreateSecretFile(config.data_dir / "secret_key", generated);
}

core::Result<std::string> loadOrCreateNodeId(const config::Config& config) {
  auto seed = loadOrCreateSecretFile(config.data_dir / "node_id", nullptr);
  if (!seed) return seed;
  // With the host's name: a data directory copied to another machine does not copy the node.
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + "/" + seed->substr(0, 16);
}

core::Result<std::string> loadOrCreateMfaSecret(const config::Config& config) {
  if (config.mfa_secret_key) return *config.mfa_secret_key;
  return loadOrCreateSecretFile(config.data_dir / "mfa_secret_key", nullptr);
}

namespace {

std::filesystem::path retiredDir(const config::Config& config) {
  return config.data_dir / "retired";
}

// The kid of the generated HMAC secret: "hs1" until the first rotation.
std::string secretKid(const config::Config& config) {
  auto kid = readFile(config.data_dir / "secret_key.kid");
  if (!kid || kid->empty()) return "hs1";
  std::string k = *kid;
  while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
  return k;
}

// Keys retired by rotation that still fit the algorithm, for verification only.
std::vector<jose::Key> retiredKeys(const config::Config& config) {
  std::vector<jose::Key> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(retiredDir(config), ec)) {
    const auto path = entry.path();
    auto content = readFile(path);
    if (!content) continue;
    const std::string kid = path.stem().string();
    if (jose::isHmac(config.algorithm) && path.extension() == ".secret") {
      if (auto k = jose::Key::hmac(config.algorithm, *content, kid)) out.push_back(*k);
    } else if (!jose::isHmac(config.algorithm) && path.extension() == ".pem") {
      if (auto pkey = crypto::privateKeyFromPem(*content)) {
        if (auto k = jose::Key::asymmetric(config.algorithm, *pkey, kid)) out.push_back(*k);
      }
    }
  }
  return out;
}

}  // namespace

core::Result<std::string> rotateKeys(const config::Config& config) {
  if (jose::isHmac(config.algorithm) && config.secret_key) {
    return makeError(Errc::FailedPrecondition,
                     "SECRET_KEY comes from the environment: change it there (tokens signed with "
                     "the old one stop working)");
  }
  auto current = loadOrCreateKeys(config);
  if (!current) return tl::unexpected(current.error());
  std::error_code ec;
  std::filesystem::create_directories(retiredDir(config), ec);
  if (ec) return makeError(Errc::Unavailable, "cannot create " + retiredDir(config).string());
  std::string new_kid;
  if (jose::isHmac(config.algorithm)) {
    const std::string old_kid = secretKid(config);
    if (auto ok = writeSecretFile(retiredDir(config) / (old_kid + ".secret"),
                                  current->signing.secret(), true);
        !ok) {
      return tl::unexpected(ok.error());
    }
    auto fresh = crypto::randomToken(64);
    if (!fresh) return tl::unexpected(fresh.error());
    new_kid =
        "hs" + std::to_string(std::stoi(old_kid.substr(2).empty() ? "1" : old_kid.substr(2)) + 1);
    if (auto ok = writeSecretFile(config.data_dir / "secret_key", *fresh, true); !ok)
      return tl::unexpected(ok.error());
    if (auto ok = writeSecretFile(config.data_dir / "secret_key.kid", new_kid, true); !ok)
      return tl::unexpected(ok.error());
  } else {
    auto pem = readFile(config.data_dir / "signing_key.pem");
    if (!pem) return tl::unexpected(pem.error());
    if (auto ok =
            writeSecretFile(retiredDir(config) / (current->signing.kid() + ".pem"), *pem, true);
        !ok) {
      return tl::unexpected(ok.error());
    }
    std::filesystem::remove(config.data_dir / "signing_key.pem", ec);
    auto next = loadOrCreateKeys(config);
    if (!next) return tl::unexpected(next.error());
    new_kid = next->signing.kid();
  }
  // Retired keys older than the refresh-token lifetime can no longer have live tokens.
  const auto cutoff = std::filesystem::file_time_type::clock::now() - config.refresh_token_ttl -
                      config.access_token_ttl;
  for (const auto& entry : std::filesystem::directory_iterator(retiredDir(config), ec)) {
    if (entry.last_write_time(ec) < cutoff) std::filesystem::remove(entry.path(), ec);
  }
  return new_kid;
}

core::Result<SigningKeys> loadOrCreateKeys(const config::Config& config) {
  const jose::Algorithm alg = config.algorithm;
  bool generated = false;
  if (jose::isHmac(alg)) {
    auto secret = loadOrCreateSecret(config, &generated);
    if (!secret) return tl::unexpected(secret.error());
    // A fixed kid: deriving it from the secret would hand out a hash of it.
    auto key =
        jose::Key::hmac(alg, *secret, config.secret_key ? std::string("hs1") : secretKid(config));
    if (!key) return makeError(Errc::InvalidArgument, "SECRET_KEY: " + key.error().message);
    std::vector<jose::Key> all{*key};
    if (!config.secret_key) {
      for (auto& k : retiredKeys(config)) {
        if (k.kid() != key->kid()) all.push_back(std::move(k));
      }
    }
    auto set = jose::KeySet::create(std::move(all));
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
  std::vector<jose::Key> all{with_kid};
  for (auto& k : retiredKeys(config)) {
    if (k.kid() != with_kid.kid()) all.push_back(std::move(k));
  }
  auto set = jose::KeySet::create(std::move(all));
  if (!set) return tl::unexpected(set.error());
  return SigningKeys{with_kid, std::move(*set), generated};
}

core::Result<jose::Key> loadOrCreateProviderKey(store::OpStore& store, std::string_view sealing_key,
                                                std::int64_t now) {
  constexpr std::string_view kAad = "gatehouse op signing key";
  auto stored = store.signingKey("", now);
  if (!stored) return tl::unexpected(stored.error());
  if (stored->empty()) {
    // The first node to start makes it; a node racing it gets the one stored first.
    auto fresh = crypto::generateRsa(2048);
    if (!fresh) return tl::unexpected(fresh.error());
    auto pem = crypto::privateKeyToPem(fresh->get());
    if (!pem) return tl::unexpected(pem.error());
    auto sealed = crypto::seal(sealing_key, *pem, kAad);
    if (!sealed) return tl::unexpected(sealed.error());
    stored = store.signingKey(core::base64urlEncode(*sealed), now);
    if (!stored) return tl::unexpected(stored.error());
  }
  const auto blob = core::base64urlDecode(*stored);
  const auto pem = blob ? crypto::open(sealing_key, *blob, kAad) : std::nullopt;
  if (!pem)
    return makeError(Errc::InvalidArgument,
                     "the OpenID Provider's signing key does not open with this MFA_SECRET_KEY "
                     "(every node must share it)");
  auto pkey = crypto::privateKeyFromPem(*pem);
  if (!pkey) return tl::unexpected(pkey.error());
  auto key = jose::Key::asymmetric(jose::Algorithm::Rs256, *pkey);
  if (!key) return tl::unexpected(key.error());
  auto kid = jose::thumbprint(*key);
  if (!kid) return tl::unexpected(kid.error());
  return key->withKid(*kid);
}

}  // namespace gatehouse::app
