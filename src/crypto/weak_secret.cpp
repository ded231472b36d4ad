#include "crypto/weak_secret.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

namespace gatehouse::crypto {
namespace {

constexpr std::size_t kMinSecretBytes = 32;
constexpr std::size_t kMinDistinct = 8;

// Secrets printed where people copy them from. A user who pasted one kept a key the whole
// internet has; a check of equality is enough, they are copied whole.
constexpr std::array<std::string_view, 3> kPublished = {
    // FastAPI's "OAuth2 with Password (and hashing), Bearer with JWT tokens" tutorial, which the
    // seed this server replaces was written from.
    "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
    // The placeholders of docs/deployment.md and packaging/gatehouse.conf.
    "CHANGE-ME-the-same-on-every-node-at-least-32-bytes",
    "at-least-32-random-bytes-for-HS256",
};

}  // namespace

std::optional<std::string> notASecret(std::string_view bytes) {
  if (bytes.size() < kMinSecretBytes) return "holds " + std::to_string(bytes.size()) + " bytes";
  if (std::find(kPublished.begin(), kPublished.end(), bytes) != kPublished.end())
    return "is an example published in documentation";
  std::array<bool, 256> seen{};
  std::size_t distinct = 0;
  for (const char ch : bytes) {
    auto& s = seen[static_cast<unsigned char>(ch)];
    distinct += s ? 0 : 1;
    s = true;
  }
  if (distinct >= kMinDistinct) return std::nullopt;
  return "holds " + std::to_string(bytes.size()) + " bytes of only " + std::to_string(distinct) +
         " distinct values (zeroed by a crash, or one character repeated)";
}

}  // namespace gatehouse::crypto
