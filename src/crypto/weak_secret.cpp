#include "crypto/weak_secret.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

#include "core/ascii.hpp"

namespace gatehouse::crypto {
namespace {

constexpr std::size_t kMinSecretBytes = 32;
constexpr std::size_t kMinDistinct = 8;

// Secrets printed where people copy them from, in lower case. A user who pasted one kept a key
// the whole internet has.
constexpr std::array<std::string_view, 3> kPublished = {
    // FastAPI's "OAuth2 with Password (and hashing), Bearer with JWT tokens" tutorial, which the
    // seed this server replaces was written from.
    "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
    // The placeholders of docs/deployment.md and packaging/gatehouse.conf.
    "change-me-the-same-on-every-node-at-least-32-bytes",
    "at-least-32-random-bytes-for-hs256",
};

constexpr std::string_view kSpace = " \t\n\r";

// As people paste it: white space at either end (a file's newline, a stray space) and the case of
// letters (hex written in capitals) do not make another key of a published one.
std::string canonical(std::string_view bytes) {
  return core::lowerAscii(core::trimAscii(bytes, kSpace));
}

// The shortest p with text[i] == text[i - p] for every i >= p (text.size() when none is shorter):
// the length of the longest proper prefix that is also a suffix, taken from text.size() (KMP's
// prefix function, linear in the length).
std::size_t shortestPeriod(std::string_view text) {
  std::vector<std::size_t> border(text.size(), 0);
  for (std::size_t i = 1; i < text.size(); ++i) {
    std::size_t k = border[i - 1];
    while (k > 0 && text[i] != text[k]) k = border[k - 1];
    if (text[i] == text[k]) ++k;
    border[i] = k;
  }
  return text.empty() ? 0 : text.size() - border.back();
}

}  // namespace

std::optional<std::string> notASecret(std::string_view bytes) {
  if (bytes.size() < kMinSecretBytes) return "holds " + std::to_string(bytes.size()) + " bytes";
  const std::string pasted = canonical(bytes);
  // Text padded with white space to the length: the padding is no secret. (Random bytes are left
  // whole: a key of raw bytes may begin or end with a byte that reads as a space.)
  const bool text = std::all_of(bytes.begin(), bytes.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return kSpace.find(c) != std::string_view::npos || (u >= 0x20 && u < 0x7f);
  });
  if (text && pasted.size() < kMinSecretBytes)
    return "holds " + std::to_string(pasted.size()) + " bytes besides white space at its ends";
  if (std::find(kPublished.begin(), kPublished.end(), pasted) != kPublished.end())
    return "is an example published in documentation";
  std::array<bool, 256> seen{};
  std::size_t distinct = 0;
  for (const char ch : bytes) {
    auto& s = seen[static_cast<unsigned char>(ch)];
    distinct += s ? 0 : 1;
    s = true;
  }
  if (distinct < kMinDistinct) {
    return "holds " + std::to_string(bytes.size()) + " bytes of only " + std::to_string(distinct) +
           " distinct values (zeroed by a crash, or one character repeated)";
  }
  // "changeme-changeme-…", "0123456789abcdef0123456789abcdef": at least twice one pattern. Half
  // of such a key tells the rest; a key made at random repeats nothing.
  if (const std::size_t period = shortestPeriod(pasted); period * 2 <= pasted.size())
    return "repeats one pattern of " + std::to_string(period) + " bytes";
  return std::nullopt;
}

}  // namespace gatehouse::crypto
