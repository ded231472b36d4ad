#pragma once

#include <filesystem>

#include "config/config.hpp"
#include "core/error.hpp"
#include "jose/jwk.hpp"

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
core::Result<SigningKeys> loadOrCreateKeys(const config::Config& config);

// The server's symmetric secret: SECRET_KEY, else <data_dir>/secret_key, generated once (0600).
// `generated` tells whether this call created it.
core::Result<std::string> loadOrCreateSecret(const config::Config& config,
                                             bool* generated = nullptr);

// Writes `contents` to `path` with mode 0600 atomically (temp file, fsync, rename). Fails if the
// file exists and `overwrite` is false.
core::Status writeSecretFile(const std::filesystem::path& path, std::string_view contents,
                             bool overwrite);

}  // namespace gatehouse::app
