#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "jose/jwk.hpp"
#include "store/store.hpp"

namespace gatehouse::keyring {

// What signs and verifies the API's tokens at one moment.
struct TokenKeys {
  jose::Key signing;
  jose::KeySet verification;  // the signing key, a next one (verify-only) and retired ones
  // Each retired key's kid, with the time it stopped signing (its successor's signs_from).
  std::map<std::string, std::int64_t, std::less<>> retired;
};

enum class KeyState { Signing, Next, Retired };

// One API token key as `gatehouse keys list` shows it. `at`: signing since, signs from (next),
// verifies until (retired).
struct KeyInfo {
  std::string kid;
  std::string alg;
  KeyState state = KeyState::Retired;
  std::int64_t at = 0;
};

// A key of the old layout (<data_dir>/secret_key, signing_key.pem, retired/), imported once.
struct FileKey {
  std::string kid;            // HS*: "hs<N>"; asymmetric: recomputed (RFC 7638 thumbprint)
  std::string material;       // the secret, or a private key in PEM
  bool current = false;       // the one that signed last
  std::int64_t modified = 0;  // orders retired keys whose kid says nothing
  std::string problem;        // why the file is unfit (unreadable, no secret): an import stops
};

// The key a file of the old layout holds, for `alg` (HS*: its kid; asymmetric: its thumbprint).
[[nodiscard]] core::Result<jose::Key> keyFromFile(jose::Algorithm alg, const FileKey& file);

// How tokenKeys() found the ring.
enum class Found { Stored, Imported, Generated };

struct Rotation {
  std::string kid;
  std::int64_t signs_from = 0;
  bool first = false;  // the ring held no key: this one signs at once, nothing was rotated
  std::vector<std::string> voided;  // a compromised rotation: the kids that verify nothing now
};

// The generated keys every node shares: kept in the database, each sealed (AES-256-GCM)
// under a key derived from the key-encryption key and bound to its purpose, algorithm, generation
// and kid. A rotation stores the next key with a time it signs from: until then every node only
// verifies with it, then every node signs with it; each node re-reads the ring (refresh()), so
// none needs a restart. Thread-safe.
class KeyRing {
 public:
  struct Settings {
    jose::Algorithm algorithm = jose::Algorithm::Hs256;
    std::string sealing_key;            // 32 bytes
    std::chrono::seconds keep_retired;  // how long a superseded key still verifies
  };

  KeyRing(store::KeyRingStore& store, Settings settings, const core::Clock& clock);

  // The never-rotated master secret (second factors, the provider's key, cookies): the stored one;
  // else `from_file` (the old mfa_secret_key) or a fresh one, stored (a racing node's wins).
  // `stored` tells whether this call stored it. InvalidArgument when the stored one does not
  // open: another key-encryption key. FailedPrecondition when `from_file` would be stored and is
  // under 32 bytes.
  [[nodiscard]] core::Result<std::string> master(const std::optional<std::string>& from_file,
                                                 bool* stored = nullptr);
  // The stored master secret, nullopt while none is stored; never stores one. InvalidArgument
  // when it does not open.
  [[nodiscard]] core::Result<std::optional<std::string>> storedMaster();

  // The token keys now. When the ring holds none of the algorithm: `from_files` are imported (into
  // a ring that never held a token key only), else a first key is made that signs at once.
  // InvalidArgument when a stored key does not open (another key-encryption key);
  // FailedPrecondition when the current file to import does not fit the algorithm.
  [[nodiscard]] core::Result<TokenKeys> tokenKeys(const std::vector<FileKey>& from_files,
                                                  Found* found = nullptr);

  // Re-reads the ring: the keys now, or nullopt when they are those the last call gave.
  [[nodiscard]] core::Result<std::optional<TokenKeys>> refresh();

  // Stores the next key, verifying at once and signing `after` from now; deletes keys superseded
  // longer than keep_retired. On an empty ring (after importing `from_files`, when there are none)
  // the first key is made instead, signing at once. FailedPrecondition while a next key waits.
  [[nodiscard]] core::Result<Rotation> rotate(std::chrono::seconds after,
                                              const std::vector<FileKey>& from_files);
  // The keys are known to someone else: a new key signs at once, and every other token key of the
  // algorithm (a next key waiting among them) is deleted, so each token they signed, or anyone
  // could forge with them, is refused on every node at its next read of the ring. Everyone signs
  // in again. On an empty ring, as rotate().
  [[nodiscard]] core::Result<Rotation> replaceCompromised(const std::vector<FileKey>& from_files);

  // Opens every stored key a server would (the master secret, the token keys of the algorithm)
  // and makes none: InvalidArgument when one does not open.
  [[nodiscard]] core::Status check(bool master, bool tokens);

  // The API token keys of the algorithm, newest first.
  [[nodiscard]] core::Result<std::vector<KeyInfo>> list();

 private:
  using Rows = std::vector<store::StoredKey>;
  core::Result<Rows> tokenRows();
  core::Result<std::optional<std::string>> storedMasterLocked();
  core::Result<TokenKeys> build(const Rows& rows, std::int64_t now);
  core::Result<Rotation> next(std::chrono::seconds after, const std::vector<FileKey>& from_files,
                              bool compromised);
  // A row's plaintext, or nullopt when it does not open (another KEK, or a row changed).
  std::optional<std::string> unseal(const store::StoredKey& row) const;
  core::Result<jose::Key> open(const store::StoredKey& row);
  core::Result<store::StoredKey> sealed(std::string purpose, std::int64_t generation,
                                        const jose::Key& key, std::string material,
                                        std::int64_t signs_from);
  core::Result<Rows> imported(const std::vector<FileKey>& files, std::int64_t now);

  store::KeyRingStore& store_;
  Settings settings_;
  const core::Clock& clock_;
  std::mutex mutex_;
  // By (generation, kid, sealed blob).
  std::map<std::tuple<std::int64_t, std::string, std::string>, jose::Key> opened_;
  std::string fingerprint_;  // of the keys the last call gave
};

// The sealing key of a key ring from a key-encryption key (any length of at least 32 bytes).
[[nodiscard]] core::Result<std::string> sealingKey(std::string_view key_encryption_key);

}  // namespace gatehouse::keyring
