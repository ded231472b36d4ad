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

// A key file's bytes. A folder in its place (a volume mounted where a file was meant) is an
// error, not an empty key: a stream reads one as nothing.
core::Result<std::string> readFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return makeError(Errc::Unavailable, "cannot read " + path.string() + ": not a file");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in) return makeError(Errc::Unavailable, "cannot read " + path.string());
  return ss.str();
}

// The old layout's mfa_secret_key, read into the ring on a first start: nullopt when there is
// none.
core::Result<std::optional<std::string>> oldMasterFile(const config::Config& config) {
  const auto path = config.data_dir / "mfa_secret_key";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  auto secret = readFile(path);
  if (!secret) return tl::unexpected(secret.error());
  return std::optional<std::string>(std::move(*secret));
}

// The ring's master secret, the old file offered for a first start; a file too short to be one
// is named. One stored short (earlier versions stored an empty or short file as it was) is
// refused: every key derived from it can be guessed.
core::Result<std::string> ringMaster(const config::Config& config, keyring::KeyRing& ring,
                                     const std::optional<std::string>& from_file, bool* stored) {
  auto master = ring.master(from_file, stored);
  if (!master && master.error().code == Errc::FailedPrecondition) {
    return makeError(Errc::FailedPrecondition,
                     (config.data_dir / "mfa_secret_key").string() + " " + master.error().message +
                         ": put the old secret back, or remove the file to have one generated");
  }
  if (master && master->size() < 32) {
    return makeError(Errc::FailedPrecondition,
                     "the master secret in the database holds " + std::to_string(master->size()) +
                         " bytes (an earlier version stored a short mfa_secret_key file as it "
                         "was): every key derived from it can be guessed. Set MFA_SECRET_KEY to a "
                         "new secret of at least 32 bytes on every node (docs/deployment.md, A "
                         "master secret too short)");
  }
  return master;
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
  // The rename itself survives a power loss only once the folder is synced: a key-encryption key
  // lost that way would leave the database's keys sealed under nothing anyone has.
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    const bool synced = ::fsync(dfd) == 0;
    ::close(dfd);
    if (!synced) return makeError(Errc::Unavailable, "cannot sync " + dir.string());
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

core::Result<std::string> loadOrCreateNodeId(const config::Config& config) {
  auto seed = loadOrCreateSecretFile(config.data_dir / "node_id", nullptr);
  if (!seed) return seed;
  // With the host's name: a data directory copied to another machine does not copy the node.
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + "/" + seed->substr(0, 16);
}

namespace {

// The file's contents without one trailing newline (what `echo key > file` adds).
core::Result<std::string> readKeyFile(const std::filesystem::path& path) {
  auto text = readFile(path);
  if (!text) return text;
  if (!text->empty() && text->back() == '\n') text->pop_back();
  if (!text->empty() && text->back() == '\r') text->pop_back();
  return text;
}

std::int64_t modifiedAt(const std::filesystem::path& path) {
  std::error_code ec;
  const auto t = std::filesystem::last_write_time(path, ec);
  return ec ? 0 : static_cast<std::int64_t>(t.time_since_epoch().count());
}

// The token keys of the old file layout for ALGORITHM, and the files read.
std::vector<keyring::FileKey> fileKeys(const config::Config& config,
                                       std::vector<std::string>& files) {
  std::vector<keyring::FileKey> out;
  const bool hmac = jose::isHmac(config.algorithm);
  const auto current = config.data_dir / (hmac ? "secret_key" : "signing_key.pem");
  if (auto material = readFile(current)) {
    std::string kid = "hs1";
    if (auto named = readKeyFile(config.data_dir / "secret_key.kid"); named && !named->empty())
      kid = *named;
    out.push_back({hmac ? kid : std::string(), std::move(*material), true, modifiedAt(current)});
    files.push_back(current.string());
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(config.data_dir / "retired", ec)) {
    const auto& path = entry.path();
    if (path.extension() != (hmac ? ".secret" : ".pem")) continue;
    if (auto material = readFile(path)) {
      out.push_back({path.stem().string(), std::move(*material), false, modifiedAt(path)});
      files.push_back(path.string());
    }
  }
  return out;
}

// SECRET_KEY signs (HS*): the ring holds no token key then.
bool secretKeySigns(const config::Config& config) {
  return jose::isHmac(config.algorithm) && config.secret_key.has_value();
}

core::Error withSource(const core::Error& error, const Kek& kek) {
  if (error.code != core::Errc::InvalidArgument) return error;
  return core::Error{error.code, error.message + "; this node's is " + kek.source, {}};
}

// The ring over `store` when any key is to come from it.
// `may_create`: a first start may make <data_dir>/key_encryption_key when the ring is empty; a
// command that only reads never does.
core::Result<std::unique_ptr<keyring::KeyRing>> openRing(const config::Config& config,
                                                         store::Store& store,
                                                         const core::Clock& clock, Kek* kek_out,
                                                         bool may_create = true) {
  auto stored = store.keyRing().list();
  if (!stored) return tl::unexpected(stored.error());
  auto kek = loadKek(config, may_create && stored->empty());
  if (!kek) return tl::unexpected(kek.error());
  auto sealing = keyring::sealingKey(kek->secret);
  if (!sealing) return tl::unexpected(withSource(sealing.error(), *kek));
  if (kek_out != nullptr) *kek_out = *kek;
  return std::make_unique<keyring::KeyRing>(
      store.keyRing(),
      keyring::KeyRing::Settings{config.algorithm, std::move(*sealing),
                                 config.refresh_token_ttl + config.access_token_ttl},
      clock);
}

}  // namespace

core::Result<Kek> loadKek(const config::Config& config, bool may_create) {
  if (config.key_encryption_key) return Kek{*config.key_encryption_key, "KEY_ENCRYPTION_KEY"};
  if (config.key_encryption_key_file) {
    const auto& path = *config.key_encryption_key_file;
    auto secret = readKeyFile(path);
    if (!secret)
      return makeError(Errc::InvalidArgument,
                       "KEY_ENCRYPTION_KEY_FILE: cannot read " + path.string());
    if (secret->size() < 32)
      return makeError(Errc::InvalidArgument, "KEY_ENCRYPTION_KEY_FILE: " + path.string() +
                                                  " must hold at least 32 bytes");
    return Kek{std::move(*secret), "KEY_ENCRYPTION_KEY_FILE (" + path.string() + ")"};
  }
  const auto path = config.data_dir / "key_encryption_key";
  const std::string source = path.string() +
                             " (neither KEY_ENCRYPTION_KEY nor "
                             "KEY_ENCRYPTION_KEY_FILE is set)";
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    auto secret = readKeyFile(path);
    if (!secret) return tl::unexpected(secret.error());
    if (secret->size() < 32)
      return makeError(Errc::InvalidArgument, path.string() + " must hold at least 32 bytes");
    return Kek{std::move(*secret), source};
  }
  if (!may_create)
    return makeError(Errc::InvalidArgument,
                     "the database holds keys sealed under a key-encryption key this node does "
                     "not have: set KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE to the one the "
                     "other nodes use");
  bool generated = false;
  auto secret = loadOrCreateSecretFile(path, &generated);
  if (!secret) return tl::unexpected(secret.error());
  return Kek{std::move(*secret), source, generated};
}

core::Result<ServerKeys> openKeys(const config::Config& config, store::Store& store,
                                  const core::Clock& clock) {
  ServerKeys out;
  out.tokens_from_ring = !secretKeySigns(config);
  const bool master_from_ring = !config.mfa_secret_key;
  if (!out.tokens_from_ring) {
    // A fixed kid: deriving it from the secret would hand out a hash of it.
    auto key = jose::Key::hmac(config.algorithm, *config.secret_key, "hs1");
    if (!key) return makeError(Errc::InvalidArgument, "SECRET_KEY: " + key.error().message);
    auto set = jose::KeySet::create({*key});
    if (!set) return tl::unexpected(set.error());
    out.tokens = keyring::TokenKeys{*key, std::move(*set)};
  }
  if (!master_from_ring) out.master = *config.mfa_secret_key;
  if (!out.tokens_from_ring && !master_from_ring) return out;

  Kek kek;
  auto ring = openRing(config, store, clock, &kek);
  if (!ring) return tl::unexpected(ring.error());
  out.ring = std::move(*ring);
  out.kek_generated = kek.generated;
  if (master_from_ring) {
    const auto path = config.data_dir / "mfa_secret_key";
    auto old_file = oldMasterFile(config);
    if (!old_file) return tl::unexpected(old_file.error());
    const std::optional<std::string>& from_file = *old_file;
    bool stored = false;
    auto master = ringMaster(config, *out.ring, from_file, &stored);
    if (!master) return tl::unexpected(withSource(master.error(), kek));
    out.master = std::move(*master);
    // Read into the ring on a first start. A file that differs from the ring's secret (another
    // node or a command filled the ring first) still opens this node's old second factors: it is
    // named, never called safe to delete.
    if (from_file && (stored || *from_file == out.master)) {
      out.imported_files.push_back(path.string());
    } else if (from_file) {
      out.master_file_differs = path.string();
    }
  }
  if (out.tokens_from_ring) {
    std::vector<std::string> files;
    auto tokens = out.ring->tokenKeys(fileKeys(config, files), &out.found);
    if (!tokens) return tl::unexpected(withSource(tokens.error(), kek));
    out.tokens = std::move(*tokens);
    if (out.found == keyring::Found::Imported)
      out.imported_files.insert(out.imported_files.end(), files.begin(), files.end());
  }
  return out;
}

core::Result<std::string> masterSecret(const config::Config& config, store::Store& store,
                                       const core::Clock& clock) {
  if (config.mfa_secret_key) return *config.mfa_secret_key;
  Kek kek;
  auto ring = openRing(config, store, clock, &kek);
  if (!ring) return tl::unexpected(ring.error());
  auto from_file = oldMasterFile(config);
  if (!from_file) return tl::unexpected(from_file.error());
  auto master = ringMaster(config, **ring, *from_file, nullptr);
  if (!master) return tl::unexpected(withSource(master.error(), kek));
  return master;
}

core::Result<keyring::Rotation> rotateKeys(const config::Config& config, store::Store& store,
                                           const core::Clock& clock,
                                           std::optional<std::chrono::seconds> after) {
  if (secretKeySigns(config)) {
    return makeError(Errc::FailedPrecondition,
                     "SECRET_KEY comes from the environment: change it there (tokens signed with "
                     "the old one stop working)");
  }
  Kek kek;
  auto ring = openRing(config, store, clock, &kek);
  if (!ring) return tl::unexpected(ring.error());
  // Verify-only long enough for every node to hear of it (they re-read the ring twice a second;
  // the rest covers clocks a few seconds apart)
  // and, with a public key, for anyone who cached the JWKS (max-age 300) to fetch it again.
  const auto wait = after.value_or(std::chrono::seconds(jose::isHmac(config.algorithm) ? 10 : 305));
  std::vector<std::string> files;
  auto rotated = (*ring)->rotate(wait, fileKeys(config, files));
  if (!rotated) return tl::unexpected(withSource(rotated.error(), kek));
  return rotated;
}

core::Status checkKeys(const config::Config& config, store::Store& store,
                       const core::Clock& clock) {
  const bool tokens_from_ring = !secretKeySigns(config);
  if (!tokens_from_ring && config.mfa_secret_key) return {};
  Kek kek;
  auto ring = openRing(config, store, clock, &kek, false);
  if (!ring) return tl::unexpected(ring.error());
  if (auto ok = (*ring)->check(!config.mfa_secret_key, tokens_from_ring); !ok)
    return tl::unexpected(withSource(ok.error(), kek));
  return {};
}

core::Result<std::vector<keyring::KeyInfo>> listKeys(const config::Config& config,
                                                     store::Store& store,
                                                     const core::Clock& clock) {
  auto stored = store.keyRing().list();
  if (!stored) return tl::unexpected(stored.error());
  if (stored->empty()) return std::vector<keyring::KeyInfo>{};
  Kek kek;
  auto ring = openRing(config, store, clock, &kek, false);
  if (!ring) return tl::unexpected(ring.error());
  return (*ring)->list();
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
                     "the OpenID Provider's signing key does not open with this node's master "
                     "secret (every node needs the same MFA_SECRET_KEY, or none and the same "
                     "KEY_ENCRYPTION_KEY)");
  auto pkey = crypto::privateKeyFromPem(*pem);
  if (!pkey) return tl::unexpected(pkey.error());
  auto key = jose::Key::asymmetric(jose::Algorithm::Rs256, *pkey);
  if (!key) return tl::unexpected(key.error());
  auto kid = jose::thumbprint(*key);
  if (!kid) return tl::unexpected(kid.error());
  return key->withKid(*kid);
}

}  // namespace gatehouse::app
