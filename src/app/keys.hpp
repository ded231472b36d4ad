#pragma once

#include <filesystem>

#include "config/config.hpp"
#include "core/error.hpp"
#include "jose/jwk.hpp"
#include "store/store.hpp"

namespace gatehouse::app {

struct SigningKeys {
  jose::Key signing;
  jose::KeySet verification;
  bool generated = false;  // a secret or key pair was created on this start
};

// The token signing key for config.algorithm. HS*: SECRET_KEY, else a 512-bit secret generated
// once and stored (0600) as <data_dir>/secret_key. Asymmetric: <data_dir>/signing_key.pem,
// generated once (0600); its kid is the RFC 7638 thumbprint. InvalidArgument when a stored key
// does not fit the algorithm.
[[nodiscard]] core::Result<SigningKeys> loadOrCreateKeys(const config::Config& config);

// The server's symmetric secret: SECRET_KEY, else <data_dir>/secret_key, generated once (0600).
// `generated` tells whether this call created it.
[[nodiscard]] core::Result<std::string> loadOrCreateSecret(const config::Config& config,
                                                           bool* generated = nullptr);

// The key second-factor secrets are sealed under: MFA_SECRET_KEY, else <data_dir>/mfa_secret_key,
// generated once (0600). Unlike the signing secret it is never rotated: sealed data outlives any
// token.
[[nodiscard]] core::Result<std::string> loadOrCreateMfaSecret(const config::Config& config);

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

// `gatehouse keys rotate`: retires the current signing key (kept under <data_dir>/retired/ so
// tokens it signed verify until they expire) and makes a new one; retired keys older than the
// refresh-token lifetime are deleted. Returns the new kid. FailedPrecondition when the HMAC secret
// comes from SECRET_KEY (rotate it there). The server picks the new key up when restarted.
[[nodiscard]] core::Result<std::string> rotateKeys(const config::Config& config);

// Writes `contents` to `path` with mode 0600 atomically (temp file, fsync, rename). Fails if the
// file exists and `overwrite` is false.
[[nodiscard]] core::Status writeSecretFile(const std::filesystem::path& path,
                                           std::string_view contents, bool overwrite);

}  // namespace gatehouse::app
