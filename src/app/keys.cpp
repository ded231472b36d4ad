#include "app/keys.hpp"

#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base64url.hpp"
#include "core/files.hpp"
#include "crypto/aead.hpp"
#include "crypto/pkey.hpp"
#include "crypto/random.hpp"
#include "crypto/weak_secret.hpp"

namespace gatehouse::app {
namespace {

using core::Errc;
using core::makeError;

// A key file's bytes. Anything but a regular file in its place (a folder a volume mount made, a
// FIFO, /dev/zero) is an error naming it, never read as an empty key or without end.
core::Result<std::string> readFile(const std::filesystem::path& path) {
  constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;  // an RSA-4096 key in PEM is ~3.3 KB
  return core::readSmallFile(path, kMaxKeyFileBytes);
}

// Whether anything is at `path`, a link to nothing included (which is then an unreadable file,
// never "no file").
bool named(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found;
}

using crypto::notASecret;

std::filesystem::path oldMasterPath(const config::Config& config) {
  return config.data_dir / "mfa_secret_key";
}

// The old layout's mfa_secret_key as a first start would store it: nullopt when there is none;
// an error naming the file when it cannot be read or is too short to be a secret (every key of
// every purpose derives from it: stored, an empty one would be anyone's, for good).
core::Result<std::optional<std::string>> importableOldMaster(const config::Config& config) {
  const auto path = oldMasterPath(config);
  if (!named(path)) return std::nullopt;
  auto secret = readFile(path);
  if (!secret) return makeError(Errc::FailedPrecondition, secret.error().message);
  if (auto weak = notASecret(*secret)) {
    return makeError(Errc::FailedPrecondition,
                     path.string() + " " + *weak +
                         "; a master secret to import needs at least 32 bytes that are no "
                         "example or pattern (docs/operations.md, Secrets that are refused): put "
                         "the old secret back, or remove the file to have one generated");
  }
  return std::optional<std::string>(std::move(*secret));
}

// Earlier versions stored an mfa_secret_key as it was: such a master secret stays refused.
core::Status strongEnough(const std::string& master) {
  const auto weak = notASecret(master);
  if (!weak) return {};
  return makeError(Errc::FailedPrecondition,
                   "the master secret in the database " + *weak +
                       " (an earlier version stored an mfa_secret_key file as it was): every key "
                       "derived from it can be guessed. Set MFA_SECRET_KEY to a new secret of at "
                       "least 32 bytes on every node (docs/deployment.md, A master secret too "
                       "short)");
}

}  // namespace

core::Status noLostMasterSecret(const config::Config& config, store::Store& store) {
  if (config.mfa_secret_key || named(oldMasterPath(config))) return {};
  const auto master_stored = [&]() -> core::Result<bool> {
    auto rows = store.keyRing().list();
    if (!rows) return tl::unexpected(rows.error());
    return std::any_of(rows->begin(), rows->end(),
                       [](const store::StoredKey& k) { return k.purpose == "master"; });
  };
  auto stored = master_stored();
  if (!stored) return tl::unexpected(stored.error());
  if (*stored) return {};
  auto held = store.holdsMasterKeyedData();
  if (!held) return tl::unexpected(held.error());
  if (!*held) return {};
  // Two first starts at once: the other may have stored its secret, and keyed data with it, in
  // between (a review).
  stored = master_stored();
  if (!stored) return tl::unexpected(stored.error());
  if (*stored) return {};
  return makeError(
      Errc::FailedPrecondition,
      "the database holds second factors, emailed links, OpenID clients or keyed audit records "
      "made under a master secret this start does not have (none stored, no " +
          oldMasterPath(config).string() +
          ", no MFA_SECRET_KEY): set MFA_SECRET_KEY to the secret the earlier version used, or "
          "put its mfa_secret_key file back (docs/deployment.md, Keys: management and rotation); "
          "only if it is lost for good, a new MFA_SECRET_KEY starts over without them");
}

namespace {

// What became of the old mfa_secret_key beside the ring's master secret.
enum class OldMaster { None, Same, Differs };

// The ring's master secret: the stored one (the old file then only compared), else the old file
// or a fresh one, stored.
core::Result<std::string> ringMaster(const config::Config& config, store::Store& store,
                                     keyring::KeyRing& ring, OldMaster* old = nullptr,
                                     bool* made_now = nullptr) {
  auto stored = ring.storedMaster();
  if (!stored) return tl::unexpected(stored.error());
  std::string master;
  if (*stored) {
    master = std::move(**stored);
  } else {
    auto from_file = importableOldMaster(config);
    if (!from_file) return tl::unexpected(from_file.error());
    if (!*from_file) {
      if (auto ok = noLostMasterSecret(config, store); !ok) return tl::unexpected(ok.error());
    }
    auto made = ring.master(*from_file, made_now);  // a racing node's may win
    if (!made) return tl::unexpected(made.error());
    master = std::move(*made);
  }
  if (auto ok = strongEnough(master); !ok) return tl::unexpected(ok.error());
  if (old != nullptr) {
    *old = OldMaster::None;
    if (named(oldMasterPath(config))) {
      const auto file = readFile(oldMasterPath(config));
      *old = file && *file == master ? OldMaster::Same : OldMaster::Differs;
    }
  }
  return master;
}

}  // namespace

core::Status writeSecretFile(const std::filesystem::path& path, std::string_view contents,
                             bool overwrite) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return makeError(Errc::Unavailable, "cannot create " + path.parent_path().string());
  return core::writeFileAtomically(path, contents, overwrite);
}

namespace {

// The secret in `path`, or a fresh one written there (0600) once.
core::Result<std::string> loadOrCreateSecretFile(const std::filesystem::path& path,
                                                 bool* generated) {
  if (named(path)) return readFile(path);
  auto fresh = crypto::randomToken(64);
  if (!fresh) return tl::unexpected(fresh.error());
  if (auto ok = writeSecretFile(path, *fresh, false); !ok) {
    // Another process (a CLI command, a second node) may have just written it; or this one did
    // and only the folder's sync failed (the file is then ours: still told as generated).
    if (!named(path)) return tl::unexpected(ok.error());
    auto there = readFile(path);
    if (there && *there == *fresh && generated != nullptr) *generated = true;
    return there;
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

// A key id as the old layout wrote them ("hs3"): it is sealed into the ring and carried by every
// token it signs.
bool validKid(std::string_view kid) {
  return !kid.empty() && kid.size() <= 64 && std::all_of(kid.begin(), kid.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.';
  });
}

// The token keys of the old file layout for ALGORITHM, and the files read.
std::vector<keyring::FileKey> fileKeys(const config::Config& config,
                                       std::vector<std::string>& files) {
  std::vector<keyring::FileKey> out;
  const bool hmac = jose::isHmac(config.algorithm);
  const auto current = config.data_dir / (hmac ? "secret_key" : "signing_key.pem");
  if (named(current)) {
    std::string kid = "hs1";
    const auto kid_path = config.data_dir / "secret_key.kid";
    const auto kid_file = named(kid_path) ? readKeyFile(kid_path) : std::string();
    if (kid_file && !kid_file->empty()) kid = *kid_file;
    auto material = readFile(current);
    // One that cannot be read (a folder mounted in its place), a secret that is none (zeroed by
    // a crash) or a kid no token could carry stops an import by name, rather than a fresh key
    // being made beside it or the import signing tokens that fail; a ring that holds keys never
    // reads it.
    std::string problem = material ? std::string() : material.error().message;
    if (material && hmac) {
      if (auto weak = notASecret(*material)) problem = current.string() + " " + *weak;
    }
    if (material && hmac && !validKid(kid))
      problem =
          kid_path.string() + " does not hold a key id (1 to 64 letters, digits, '-', '_' or '.')";
    if (material && hmac && !kid_file) problem = kid_file.error().message;  // not "hs1" unheard
    out.push_back({hmac ? kid : std::string(), material ? std::move(*material) : std::string(),
                   true, modifiedAt(current), std::move(problem)});
    if (material) files.push_back(current.string());
  }
  std::error_code ec;
  const auto retired_dir = config.data_dir / "retired";
  std::filesystem::directory_iterator retired(retired_dir, ec);
  if (ec && named(retired_dir)) {
    // Its keys would be dropped unheard: tokens they signed would stop verifying.
    out.push_back({"", "", false, 0, retired_dir.string() + " is not a folder that can be read"});
  }
  for (const auto& entry : retired) {
    const auto& path = entry.path();
    if (path.extension() != (hmac ? ".secret" : ".pem")) continue;
    auto material = readFile(path);
    std::string problem = material ? std::string() : material.error().message;
    if (material && hmac) {
      if (auto weak = notASecret(*material)) problem = path.string() + " " + *weak;
      if (!validKid(path.stem().string()))
        problem =
            path.string() + ": its name is no key id (1 to 64 letters, digits, '-', '_' or '.')";
    }
    if (material) files.push_back(path.string());
    out.push_back({path.stem().string(), material ? std::move(*material) : std::string(), false,
                   modifiedAt(path), std::move(problem)});
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

// `kek` with its weakness, if any, named (Kek::weak).
Kek judged(Kek kek, const std::string& named_as) {
  if (auto weak = notASecret(kek.secret)) kek.weak = named_as + " is not a secret: it " + *weak;
  return kek;
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
  if (!kek->weak.empty() && stored->empty())
    return makeError(Errc::FailedPrecondition, weakKekRefusal(kek->weak));
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

bool usesKeyRing(const config::Config& config) {
  return !secretKeySigns(config) || !config.mfa_secret_key;
}

std::string weakKekRefusal(const std::string& weak) {
  return weak +
         "; nothing is sealed under it yet: set a random one (openssl rand -hex 32) before the "
         "first start";
}

std::string weakKekWarning(const std::string& weak) {
  return weak +
         ", and the keys in the database are sealed under it: anyone with a copy of the database "
         "can open them. It cannot be changed in place (docs/deployment.md, Upgrades)";
}

core::Result<Kek> loadKek(const config::Config& config, bool may_create) {
  if (config.key_encryption_key)
    return judged(Kek{*config.key_encryption_key, "KEY_ENCRYPTION_KEY"}, "KEY_ENCRYPTION_KEY");
  if (config.key_encryption_key_file) {
    const auto& path = *config.key_encryption_key_file;
    auto secret = readKeyFile(path);
    if (!secret)
      return makeError(Errc::InvalidArgument, "KEY_ENCRYPTION_KEY_FILE: " + secret.error().message);
    return judged(Kek{std::move(*secret), "KEY_ENCRYPTION_KEY_FILE (" + path.string() + ")"},
                  "KEY_ENCRYPTION_KEY_FILE: " + path.string());
  }
  const auto path = config.data_dir / "key_encryption_key";
  const std::string source = path.string() +
                             " (neither KEY_ENCRYPTION_KEY nor "
                             "KEY_ENCRYPTION_KEY_FILE is set)";
  if (named(path)) {
    // The key every stored key is sealed under: restored, never replaced.
    constexpr std::string_view kRestore =
        ": restore it from a backup, or set KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE to the "
        "one the other nodes use; never delete it while the database holds keys";
    auto secret = readKeyFile(path);
    if (!secret)
      return makeError(Errc::FailedPrecondition, secret.error().message + std::string(kRestore));
    // Made here at random, so one that is no secret was zeroed by a crash or written over: a
    // backup is the way back (an operator's own key comes through the two settings instead).
    if (auto weak = notASecret(*secret))
      return makeError(Errc::FailedPrecondition,
                       path.string() + " " + *weak + std::string(kRestore));
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
  out.kek_weak = kek.weak;
  if (master_from_ring) {
    OldMaster old = OldMaster::None;
    auto master = ringMaster(config, store, *out.ring, &old, &out.master_made);
    if (!master) return tl::unexpected(withSource(master.error(), kek));
    out.master = std::move(*master);
    // Read into the ring on a first start. A file that differs from the ring's secret (another
    // node or a command filled the ring first) still opens this node's old second factors: it is
    // named, never called safe to delete.
    if (old == OldMaster::Same) out.imported_files.push_back(oldMasterPath(config).string());
    if (old == OldMaster::Differs) out.master_file_differs = oldMasterPath(config).string();
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
  auto master = ringMaster(config, store, **ring);
  if (!master) return tl::unexpected(withSource(master.error(), kek));
  return master;
}

core::Result<std::optional<std::string>> storedMasterSecret(const config::Config& config,
                                                            store::Store& store,
                                                            const core::Clock& clock,
                                                            bool to_write) {
  if (config.mfa_secret_key) return std::optional<std::string>(*config.mfa_secret_key);
  // A command would otherwise go on without it, writing audit records no key checks (a review).
  if (to_write) {
    if (auto ok = noLostMasterSecret(config, store); !ok) return tl::unexpected(ok.error());
  }
  auto stored = store.keyRing().list();
  if (!stored) return tl::unexpected(stored.error());
  if (stored->empty()) return std::optional<std::string>();
  Kek kek;
  auto ring = openRing(config, store, clock, &kek, false);
  if (!ring) return tl::unexpected(ring.error());
  auto master = (*ring)->storedMaster();
  if (!master) return tl::unexpected(withSource(master.error(), kek));
  if (*master) {
    if (auto ok = strongEnough(**master); !ok) return tl::unexpected(ok.error());
  }
  return master;
}

core::Result<keyring::Rotation> rotateKeys(const config::Config& config, store::Store& store,
                                           const core::Clock& clock,
                                           std::optional<std::chrono::seconds> after,
                                           bool compromised) {
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
  auto rotated = compromised ? (*ring)->replaceCompromised(fileKeys(config, files))
                             : (*ring)->rotate(wait, fileKeys(config, files));
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
  if (!config.mfa_secret_key) {
    // What serve would refuse: a stored master secret too short (checkOldKeyFiles covers a ring
    // without one).
    auto stored = (*ring)->storedMaster();
    if (!stored) return tl::unexpected(withSource(stored.error(), kek));
    if (*stored) return strongEnough(**stored);
  }
  return {};
}

core::Status checkOldKeyFiles(const config::Config& config, bool master_stored,
                              bool tokens_stored) {
  if (!config.mfa_secret_key && !master_stored) {
    if (auto file = importableOldMaster(config); !file) return tl::unexpected(file.error());
  }
  if (tokens_stored || secretKeySigns(config)) return {};
  std::vector<std::string> files;
  const auto keys = fileKeys(config, files);
  const auto current =
      std::find_if(keys.begin(), keys.end(), [](const auto& k) { return k.current; });
  if (current == keys.end()) return {};
  const auto path =
      config.data_dir / (jose::isHmac(config.algorithm) ? "secret_key" : "signing_key.pem");
  const std::string alg(jose::algorithmName(config.algorithm));
  for (const auto& k : keys) {
    if (!k.problem.empty()) return makeError(Errc::FailedPrecondition, k.problem);
  }
  auto key = keyring::keyFromFile(config.algorithm, *current);
  if (!key)
    return makeError(Errc::FailedPrecondition, "ALGORITHM: " + path.string() + " does not fit " +
                                                   alg + ": " + key.error().message);
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
