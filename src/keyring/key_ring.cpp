#include "keyring/key_ring.hpp"

#include <algorithm>
#include <charconv>

#include "core/base64url.hpp"
#include "crypto/aead.hpp"
#include "crypto/pkey.hpp"
#include "crypto/random.hpp"
#include "crypto/weak_secret.hpp"

namespace gatehouse::keyring {
namespace {

using core::Errc;
using core::makeError;

constexpr std::string_view kToken = "token";
constexpr std::string_view kMaster = "master";
constexpr std::size_t kMinMasterBytes = 32;  // MFA_SECRET_KEY's rule

// Binds a sealed key to its row: a blob moved to another purpose, algorithm, generation or kid
// does not open. Its time to sign is bound too: without the key-encryption key nobody chooses
// which stored key signs, or keeps a retired one verifying by moving its successor's time.
std::string aadOf(std::string_view purpose, std::string_view alg, std::int64_t generation,
                  std::string_view kid, std::int64_t signs_from) {
  std::string aad = "gatehouse key ring v1";
  const std::string number = std::to_string(generation);
  const std::string from = std::to_string(signs_from);
  for (std::string_view part :
       {purpose, alg, std::string_view(number), kid, std::string_view(from)}) {
    aad += '\0';
    aad += part;
  }
  return aad;
}

core::Error doesNotOpen() {
  return core::Error{Errc::InvalidArgument,
                     "the keys in the database do not open with this node's key-encryption key "
                     "(every node needs the same KEY_ENCRYPTION_KEY)",
                     {}};
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

// A key of `alg` from stored material; an asymmetric one named by its thumbprint unless `kid`.
core::Result<jose::Key> keyOf(jose::Algorithm alg, const std::string& material, std::string kid) {
  if (jose::isHmac(alg)) return jose::Key::hmac(alg, material, std::move(kid));
  auto pkey = crypto::privateKeyFromPem(material);
  if (!pkey) return tl::unexpected(pkey.error());
  auto key = jose::Key::asymmetric(alg, *pkey);
  if (!key) return tl::unexpected(key.error());
  if (kid.empty()) {
    auto thumb = jose::thumbprint(*key);
    if (!thumb) return tl::unexpected(thumb.error());
    kid = *thumb;
  }
  return key->withKid(std::move(kid));
}

// A new key of `alg` and its material (the secret, or the private key in PEM); an HMAC key is
// named `hmac_kid`, a key pair by its thumbprint.
struct Generated {
  jose::Key key;
  std::string material;
};
core::Result<Generated> generate(jose::Algorithm alg, const std::string& hmac_kid) {
  std::string material;
  if (jose::isHmac(alg)) {
    auto secret = crypto::randomToken(64);
    if (!secret) return tl::unexpected(secret.error());
    material = std::move(*secret);
  } else {
    auto pkey = generateFor(alg);
    if (!pkey) return tl::unexpected(pkey.error());
    auto pem = crypto::privateKeyToPem(pkey->get());
    if (!pem) return tl::unexpected(pem.error());
    material = std::move(*pem);
  }
  auto key = keyOf(alg, material, jose::isHmac(alg) ? hmac_kid : std::string());
  if (!key) return tl::unexpected(key.error());
  return Generated{std::move(*key), std::move(material)};
}

// The generation an "hs<N>" kid names, 0 for any other.
std::int64_t generationOfKid(std::string_view kid) {
  if (!kid.starts_with("hs") || kid.size() < 3 || kid.size() > 12) return 0;
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(kid.data() + 2, kid.data() + kid.size(), n);
  return ec == std::errc() && end == kid.data() + kid.size() && n > 0 ? n : 0;
}

// The key of `rows` (one algorithm, by generation) that signs at `now`: the newest whose time
// came; the oldest when none did (never stored so).
std::size_t signingIndex(const std::vector<store::StoredKey>& rows, std::int64_t now) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].signs_from <= now) at = i;
  }
  return at;
}

}  // namespace

core::Result<std::string> sealingKey(std::string_view key_encryption_key) {
  if (key_encryption_key.size() < 32)
    return makeError(Errc::InvalidArgument, "the key-encryption key needs at least 32 bytes");
  return crypto::hkdf(key_encryption_key, "gatehouse key ring sealing v1", 32);
}

KeyRing::KeyRing(store::KeyRingStore& store, Settings settings, const core::Clock& clock)
    : store_(store), settings_(std::move(settings)), clock_(clock) {}

core::Result<store::StoredKey> KeyRing::sealed(std::string purpose, std::int64_t generation,
                                               const jose::Key& key, std::string material,
                                               std::int64_t signs_from) {
  const std::string alg =
      purpose == kMaster ? std::string() : std::string(jose::algorithmName(key.algorithm()));
  const std::string kid = purpose == kMaster ? std::string(kMaster) : key.kid();
  auto blob = crypto::seal(settings_.sealing_key, material,
                           aadOf(purpose, alg, generation, kid, signs_from));
  if (!blob) return tl::unexpected(blob.error());
  return store::StoredKey{
      std::move(purpose),   alg,       generation, kid, core::base64urlEncode(*blob),
      clock_.unixSeconds(), signs_from};
}

std::optional<std::string> KeyRing::unseal(const store::StoredKey& row) const {
  const auto blob = core::base64urlDecode(row.sealed);
  if (!blob) return std::nullopt;
  return crypto::open(settings_.sealing_key, *blob,
                      aadOf(row.purpose, row.alg, row.generation, row.kid, row.signs_from));
}

core::Result<jose::Key> KeyRing::open(const store::StoredKey& row) {
  // By the sealed blob too: a row replaced by hand under the same generation and kid is opened
  // again, never served from the cache.
  auto at = std::make_tuple(row.generation, row.kid, row.sealed);
  if (auto it = opened_.find(at); it != opened_.end()) return it->second;
  const auto material = unseal(row);
  if (!material) return tl::unexpected(doesNotOpen());
  auto key = keyOf(settings_.algorithm, *material, row.kid);
  if (!key)
    return makeError(Errc::InvalidArgument,
                     "stored key " + row.kid + " does not fit ALGORITHM: " + key.error().message);
  opened_.emplace(std::move(at), *key);
  return key;
}

core::Result<std::optional<std::string>> KeyRing::storedMasterLocked() {
  auto rows = store_.list();
  if (!rows) return tl::unexpected(rows.error());
  for (const auto& row : *rows) {
    if (row.purpose != kMaster) continue;
    auto secret = unseal(row);
    if (!secret) return tl::unexpected(doesNotOpen());
    return std::optional<std::string>(std::move(*secret));
  }
  return std::nullopt;
}

core::Result<std::optional<std::string>> KeyRing::storedMaster() {
  const std::lock_guard lock(mutex_);
  return storedMasterLocked();
}

core::Result<std::string> KeyRing::master(const std::optional<std::string>& from_file,
                                          bool* stored) {
  const std::lock_guard lock(mutex_);
  if (stored != nullptr) *stored = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto found = storedMasterLocked();
    if (!found) return tl::unexpected(found.error());
    if (*found) return std::move(**found);
    if (attempt > 0) break;
    std::string secret;
    if (from_file) {
      // Every key of every purpose derives from it: an empty or short one (a file emptied by a
      // full disk, a folder mounted in its place) would hand them to anyone, for good.
      if (from_file->size() < kMinMasterBytes) {
        return makeError(Errc::FailedPrecondition,
                         "holds " + std::to_string(from_file->size()) +
                             " bytes; a master secret to import needs at least 32");
      }
      secret = *from_file;
    } else {
      auto fresh = crypto::randomToken(64);
      if (!fresh) return tl::unexpected(fresh.error());
      secret = std::move(*fresh);
    }
    const std::int64_t now = clock_.unixSeconds();
    auto blob = crypto::seal(settings_.sealing_key, secret, aadOf(kMaster, "", 1, kMaster, now));
    if (!blob) return tl::unexpected(blob.error());
    const store::StoredKey row{std::string(kMaster),         "",  1,  std::string(kMaster),
                               core::base64urlEncode(*blob), now, now};
    auto added = store_.add({row});
    if (added) {
      if (stored != nullptr) *stored = true;
      return secret;
    }
    // Another node stored its secret first: everyone uses that one.
    if (added.error().code != Errc::AlreadyExists) return tl::unexpected(added.error());
  }
  return makeError(Errc::Internal, "key ring: no master secret after storing one");
}

core::Result<KeyRing::Rows> KeyRing::tokenRows() {
  auto rows = store_.list();
  if (!rows) return tl::unexpected(rows.error());
  const std::string alg(jose::algorithmName(settings_.algorithm));
  Rows out;
  for (auto& row : *rows) {
    if (row.purpose == kToken && row.alg == alg) out.push_back(std::move(row));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.generation < b.generation; });
  return out;
}

core::Result<TokenKeys> KeyRing::build(const Rows& rows, std::int64_t now) {
  if (rows.empty()) return makeError(Errc::NotFound, "no token signing key stored");
  const std::size_t signer = signingIndex(rows, now);
  std::vector<jose::Key> keys;
  std::optional<jose::Key> signing;
  std::map<std::string, std::int64_t, std::less<>> retired;
  std::string fingerprint;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    // A key superseded longer ago than any token lives verifies nothing any more.
    if (i + 1 < rows.size() && i < signer &&
        rows[i + 1].signs_from + settings_.keep_retired.count() < now)
      continue;
    auto key = open(rows[i]);
    if (!key) return tl::unexpected(key.error());
    // A key an earlier version imported from a file that held no secret (zeroed by a crash)
    // verifies nothing: tokens anyone can sign with it are refused. One that would sign stops the
    // start until a rotation puts a key of its own before it.
    if (const auto weak =
            jose::isHmac(settings_.algorithm) ? crypto::notASecret(key->secret()) : std::nullopt) {
      if (i != signer) continue;
      return makeError(Errc::FailedPrecondition,
                       "the token key " + rows[i].kid + " in the database " + *weak +
                           " (an earlier version imported a secret_key file as it was): tokens "
                           "it signs can be forged. Run `gatehouse keys rotate --after 2` once, "
                           "then start the nodes: it never verifies again");
    }
    if (i == signer) signing = *key;
    if (i < signer) retired[rows[i].kid] = rows[i + 1].signs_from;
    fingerprint += rows[i].kid + (i == signer ? "*" : "") + rows[i].sealed + " ";
    keys.push_back(std::move(*key));
  }
  // The signing key first: a token without kid (none of ours) meets it alone only when alone.
  std::stable_partition(keys.begin(), keys.end(),
                        [&](const jose::Key& k) { return k.kid() == signing->kid(); });
  auto set = jose::KeySet::create(std::move(keys));
  if (!set) return tl::unexpected(set.error());
  fingerprint_ = std::move(fingerprint);
  return TokenKeys{*signing, std::move(*set), std::move(retired)};
}

core::Result<jose::Key> keyFromFile(jose::Algorithm alg, const FileKey& file) {
  return keyOf(alg, file.material, jose::isHmac(alg) ? file.kid : std::string());
}

core::Result<KeyRing::Rows> KeyRing::imported(const std::vector<FileKey>& files, std::int64_t now) {
  // Retired keys first (by the generation their kid names, else by age), the current one last;
  // generations 1..n, so a node generating its first key at the same moment collides with this
  // import on generation 1 and one of the two wins whole.
  std::vector<const FileKey*> order;
  for (const auto& f : files) order.push_back(&f);
  std::stable_sort(order.begin(), order.end(), [](const FileKey* a, const FileKey* b) {
    if (a->current != b->current) return b->current;
    const auto ga = generationOfKid(a->kid);
    const auto gb = generationOfKid(b->kid);
    if (ga != gb) return ga < gb;
    return a->modified < b->modified;
  });
  std::vector<jose::Key> keys;
  std::vector<const FileKey*> kept;
  for (const FileKey* f : order) {
    // A file that could not be read stops the import (tokens it signed would stop verifying
    // unheard); the file is fixed or removed, and the next start imports.
    if (!f->problem.empty()) return makeError(Errc::FailedPrecondition, f->problem);
    auto key = keyFromFile(settings_.algorithm, *f);
    if (!key) {
      if (!f->current) continue;  // a retired key of another algorithm verified nothing either
      return makeError(Errc::FailedPrecondition,
                       "the old layout's current key file (secret_key or signing_key.pem) does "
                       "not fit ALGORITHM=" +
                           std::string(jose::algorithmName(settings_.algorithm)) + ": " +
                           key.error().message);
    }
    // One key per kid (a rotation of the old layout that died half-way left the current key in
    // retired/ too): the later one wins, the current one above all.
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].kid() == key->kid()) {
        keys.erase(keys.begin() + static_cast<std::ptrdiff_t>(i));
        kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    keys.push_back(std::move(*key));
    kept.push_back(f);
  }
  Rows rows;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    // All from now: the newest (the current one) signs, and every retired one keeps verifying
    // as long as a token it signed may live.
    auto row = sealed(std::string(kToken), static_cast<std::int64_t>(i) + 1, keys[i],
                      kept[i]->material, now);
    if (!row) return tl::unexpected(row.error());
    rows.push_back(std::move(*row));
  }
  return rows;
}

core::Result<TokenKeys> KeyRing::tokenKeys(const std::vector<FileKey>& from_files, Found* found) {
  const std::lock_guard lock(mutex_);
  if (found != nullptr) *found = Found::Stored;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto rows = tokenRows();
    if (!rows) return tl::unexpected(rows.error());
    const std::int64_t now = clock_.unixSeconds();
    if (!rows->empty()) return build(*rows, now);
    if (attempt > 0) break;
    Rows fresh;
    Found how = Found::Imported;
    // The old files are read once, into a ring that never held a token key: later (another
    // ALGORITHM chosen) they would bring back a key rotated away long ago.
    auto all = store_.list();
    if (!all) return tl::unexpected(all.error());
    const bool ring_used = std::any_of(all->begin(), all->end(),
                                       [](const auto& row) { return row.purpose == kToken; });
    const bool any_current =
        std::any_of(from_files.begin(), from_files.end(), [](const auto& f) { return f.current; });
    if (any_current && !ring_used) {
      auto made = imported(from_files, now);
      if (!made) return tl::unexpected(made.error());
      fresh = std::move(*made);
    } else {
      how = Found::Generated;
      auto made = generate(settings_.algorithm, "hs1");
      if (!made) return tl::unexpected(made.error());
      auto row = sealed(std::string(kToken), 1, made->key, made->material, now);
      if (!row) return tl::unexpected(row.error());
      fresh.push_back(std::move(*row));
    }
    // Opened as every node will open them before any is stored: a set that cannot serve never
    // reaches the database.
    auto keys = build(fresh, now);
    if (!keys) return tl::unexpected(keys.error());
    auto added = store_.add(fresh);
    if (added) {
      if (found != nullptr) *found = how;
      return keys;
    }
    // A node starting at the same moment stored its keys first: everyone uses those.
    if (added.error().code != Errc::AlreadyExists) return tl::unexpected(added.error());
  }
  return makeError(Errc::Internal, "key ring: no token key after storing one");
}

core::Result<std::optional<TokenKeys>> KeyRing::refresh() {
  const std::lock_guard lock(mutex_);
  auto rows = tokenRows();
  if (!rows) return tl::unexpected(rows.error());
  // Emptied by hand: keep what this node has rather than sign nothing.
  if (rows->empty()) return std::optional<TokenKeys>();
  const std::string before = fingerprint_;
  auto keys = build(*rows, clock_.unixSeconds());
  if (!keys) return tl::unexpected(keys.error());
  if (fingerprint_ == before) return std::optional<TokenKeys>();
  return std::optional<TokenKeys>(std::move(*keys));
}

core::Result<Rotation> KeyRing::rotate(std::chrono::seconds after,
                                       const std::vector<FileKey>& from_files) {
  return next(after, from_files, false);
}

core::Result<Rotation> KeyRing::replaceCompromised(const std::vector<FileKey>& from_files) {
  return next(std::chrono::seconds(0), from_files, true);
}

core::Result<Rotation> KeyRing::next(std::chrono::seconds after,
                                     const std::vector<FileKey>& from_files, bool compromised) {
  Found found = Found::Stored;
  auto current = tokenKeys(from_files, &found);
  // A stored signing key that is no secret (FailedPrecondition) is what a rotation is for.
  if (!current && current.error().code != Errc::FailedPrecondition)
    return tl::unexpected(current.error());
  const std::int64_t now = clock_.unixSeconds();
  // Nothing signed yet: the key just made is the first, not one to retire unused.
  if (current && found == Found::Generated) return Rotation{current->signing.kid(), now, true};
  const std::lock_guard lock(mutex_);
  auto rows = tokenRows();
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty())
    return tl::unexpected(current.error());  // an import refused: nothing to rotate
  for (const auto& row : *rows) {
    // A key that never signed is never replaced, unless the ring is known to someone else (found
    // by outside attacks: a leaked key kept signing for the pending rotation's month).
    if (row.signs_from > now && !compromised)
      return makeError(
          Errc::FailedPrecondition,
          "a rotation is under way: " + row.kid + " signs from " + core::rfc3339(row.signs_from));
  }
  const std::int64_t generation = rows->back().generation + 1;
  // HMAC kids count on from the largest generation or hs<N> seen; a kid names one key only.
  std::int64_t last = generation - 1;
  for (const auto& r : *rows) last = std::max(last, generationOfKid(r.kid));
  std::string kid = "hs" + std::to_string(last + 1);
  while (std::any_of(rows->begin(), rows->end(), [&](const auto& r) { return r.kid == kid; }))
    kid += "x";
  auto made = generate(settings_.algorithm, kid);
  if (!made) return tl::unexpected(made.error());
  const std::int64_t signs_from = now + after.count();
  auto row = sealed(std::string(kToken), generation, made->key, made->material, signs_from);
  if (!row) return tl::unexpected(row.error());
  // Compromised: the new key and the old ones' end in one transaction (found by a crash test: a
  // kill between the two left the leaked key verifying for as long as a retired key is kept, listed
  // as an ordinary retired key).
  if (auto added = compromised ? store_.replace(*row) : store_.add({*row}); !added) {
    if (added.error().code == Errc::AlreadyExists)
      return makeError(Errc::FailedPrecondition,
                       "a rotation is under way: another one stored the next key just now");
    return tl::unexpected(added.error());
  }
  if (compromised) {
    Rotation done{made->key.kid(), signs_from, false, {}};
    for (const auto& r : *rows) done.voided.push_back(r.kid);
    return done;
  }
  // Keys whose successor has signed longer than any token lives are gone for good.
  std::int64_t keep_from = 0;
  for (std::size_t i = 0; i + 1 < rows->size(); ++i) {
    if ((*rows)[i + 1].signs_from + settings_.keep_retired.count() < now)
      keep_from = (*rows)[i + 1].generation;
  }
  if (keep_from > 0) {
    if (auto ok = store_.removeBelow(kToken, jose::algorithmName(settings_.algorithm), keep_from);
        !ok)
      return tl::unexpected(ok.error());
  }
  return Rotation{made->key.kid(), signs_from, false};
}

core::Status KeyRing::check(bool master, bool tokens) {
  const std::lock_guard lock(mutex_);
  auto rows = store_.list();
  if (!rows) return tl::unexpected(rows.error());
  const std::string alg(jose::algorithmName(settings_.algorithm));
  for (const auto& row : *rows) {
    if (master && row.purpose == kMaster) {
      if (!unseal(row)) return tl::unexpected(doesNotOpen());
    } else if (tokens && row.purpose == kToken && row.alg == alg) {
      if (auto key = open(row); !key) return tl::unexpected(key.error());
    }
  }
  if (tokens) {
    // As the start: a signing key that is no secret stops it.
    auto token_rows = tokenRows();
    if (!token_rows) return tl::unexpected(token_rows.error());
    if (!token_rows->empty()) {
      if (auto built = build(*token_rows, clock_.unixSeconds()); !built) {
        return tl::unexpected(built.error());
      }
    }
  }
  return {};
}

core::Result<std::vector<KeyInfo>> KeyRing::list() {
  const std::lock_guard lock(mutex_);
  auto rows = tokenRows();
  if (!rows) return tl::unexpected(rows.error());
  std::vector<KeyInfo> out;
  if (rows->empty()) return out;
  const std::int64_t now = clock_.unixSeconds();
  const std::size_t signer = signingIndex(*rows, now);
  for (std::size_t i = rows->size(); i-- > 0;) {
    const auto& row = (*rows)[i];
    KeyInfo info{row.kid, row.alg, KeyState::Retired, 0};
    if (i == signer) {
      info.state = KeyState::Signing;
      info.at = row.signs_from;
    } else if (i > signer) {
      info.state = KeyState::Next;
      info.at = row.signs_from;
    } else {
      info.at = (*rows)[i + 1].signs_from + settings_.keep_retired.count();
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace gatehouse::keyring
