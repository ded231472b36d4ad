#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>

#include "config/config.hpp"
#include "core/error.hpp"
#include "jose/jwk.hpp"
#include "keyring/key_ring.hpp"
#include "store/store.hpp"

namespace gatehouse::app {

// The key-encryption key (KEY_ENCRYPTION_KEY, the file KEY_ENCRYPTION_KEY_FILE, else
// <data_dir>/key_encryption_key) and where it came from, for messages.
struct Kek {
  std::string secret;
  std::string source;
  bool generated = false;  // <data_dir>/key_encryption_key was made by this call
  // Why it is no secret (crypto::notASecret: short, zeroed, a published example), naming its
  // source; empty when it is one. Such a key may seal nothing new; one that already sealed the
  // stored keys cannot be changed, so it is named at every start instead of stopping it.
  std::string weak;
};

// Reads the key-encryption key; <data_dir>/key_encryption_key is made (0600) only when
// `may_create` (the database holds no key yet: a second node must not seal under its own).
[[nodiscard]] core::Result<Kek> loadKek(const config::Config& config, bool may_create);

// Whether serve opens the key ring, and so reads the key-encryption key: not when SECRET_KEY signs
// (HS*) and MFA_SECRET_KEY is set.
[[nodiscard]] bool usesKeyRing(const config::Config& config);

// What is said of a key-encryption key that is no secret (Kek::weak): before anything is sealed
// under it, the refusal; once the stored keys are, the warning every start logs.
[[nodiscard]] std::string weakKekRefusal(const std::string& weak);
[[nodiscard]] std::string weakKekWarning(const std::string& weak);

// The keys a process runs with: the API's token keys and the master secret every other key is
// derived from, shared through the database (keyring/).
struct ServerKeys {
  std::unique_ptr<keyring::KeyRing> ring;  // null when SECRET_KEY and MFA_SECRET_KEY leave nothing
  bool tokens_from_ring = false;           // false: SECRET_KEY signs
  std::optional<keyring::TokenKeys> tokens;  // always set by openKeys
  std::string master;
  // This start stored the master secret: the first start on this database (or the first after
  // the key ring was emptied, which a node cannot tell apart).
  bool master_made = false;
  keyring::Found found = keyring::Found::Stored;
  std::vector<std::string> imported_files;  // old-layout files read into the database now
  // An old mfa_secret_key that is not the ring's master secret (the ring was filled first): the
  // second factors it sealed do not open here.
  std::string master_file_differs;
  bool kek_generated = false;
  std::string kek_weak;  // Kek::weak of the key the stored keys are sealed under
};

// Opens (or, on a first start, fills) the key ring. Keys of the old file layout
// (<data_dir>/secret_key, signing_key.pem, retired/, mfa_secret_key) are imported once.
// InvalidArgument names KEY_ENCRYPTION_KEY when the stored keys do not open with this node's.
[[nodiscard]] core::Result<ServerKeys> openKeys(const config::Config& config, store::Store& store,
                                                const core::Clock& clock);

// FailedPrecondition when no master secret is at hand (none stored, no old mfa_secret_key file,
// no MFA_SECRET_KEY) while the database holds data keyed under one (an upgrade that lost it):
// a fresh secret would lock that data out for good. Every start and command asks.
[[nodiscard]] core::Status noLostMasterSecret(const config::Config& config, store::Store& store);

// The master secret alone (CLI commands that key or seal like the server).
[[nodiscard]] core::Result<std::string> masterSecret(const config::Config& config,
                                                     store::Store& store, const core::Clock& clock);

// The master secret the database holds (or MFA_SECRET_KEY), never made: nullopt while the ring
// holds no key, before the server's first start made them (no key-encryption key is read or
// made then). For commands that only use what the server uses (the CLI's notices).
// `to_write` (every command that writes): FailedPrecondition as noLostMasterSecret; a command
// that only reads (`audit verify`) gets nullopt and says what that means itself.
[[nodiscard]] core::Result<std::optional<std::string>> storedMasterSecret(
    const config::Config& config, store::Store& store, const core::Clock& clock,
    bool to_write = true);

// `gatehouse keys rotate`: the next token key, verifying at once and signing `after` from now
// (default: 10 s for HS*, 305 s for asymmetric algorithms, whose JWKS is cached 300 s).
// FailedPrecondition when SECRET_KEY signs (rotate it there) or a next key is waiting.
// `compromised` (`--compromised`): a new key signing at once, every other one deleted
// (KeyRing::replaceCompromised), a waiting next key too.
[[nodiscard]] core::Result<keyring::Rotation> rotateKeys(const config::Config& config,
                                                         store::Store& store,
                                                         const core::Clock& clock,
                                                         std::optional<std::chrono::seconds> after,
                                                         bool compromised = false);

// `gatehouse config --check`: every stored key that serve would open (the master secret, the
// token keys of ALGORITHM) opens with this node's key-encryption key; nothing is made.
[[nodiscard]] core::Status checkKeys(const config::Config& config, store::Store& store,
                                     const core::Clock& clock);

// `gatehouse config --check`: the old layout's files a first start would import are fit to be
// (mfa_secret_key unless `master_stored` or MFA_SECRET_KEY is set: a file of at least 32 bytes;
// secret_key or signing_key.pem unless `tokens_stored` or SECRET_KEY signs: a key of ALGORITHM).
// FailedPrecondition naming the file.
[[nodiscard]] core::Status checkOldKeyFiles(const config::Config& config, bool master_stored,
                                            bool tokens_stored);

// `gatehouse keys list`: the token keys of ALGORITHM, newest first.
[[nodiscard]] core::Result<std::vector<keyring::KeyInfo>> listKeys(const config::Config& config,
                                                                   store::Store& store,
                                                                   const core::Clock& clock);

// This node's lasting name (<data_dir>/node_id, made once): the mail outbox's claims carry it, so
// a node starting again releases what it held when it died. Each node needs its own data
// directory.
[[nodiscard]] core::Result<std::string> loadOrCreateNodeId(const config::Config& config);

// The OpenID Provider's RS256 key (ID tokens and its access tokens, whatever ALGORITHM the API
// uses), kept in the database sealed under `sealing_key` so every node signs with the same key;
// made by the first node that needs it. InvalidArgument when the stored key does not open.
[[nodiscard]] core::Result<jose::Key> loadOrCreateProviderKey(store::OpStore& store,
                                                              std::string_view sealing_key,
                                                              std::int64_t now);

// Writes `contents` to `path` with mode 0600 atomically (temp file, fsync, rename). Fails if the
// file exists and `overwrite` is false.
[[nodiscard]] core::Status writeSecretFile(const std::filesystem::path& path,
                                           std::string_view contents, bool overwrite);

}  // namespace gatehouse::app
