#include "password/password_hasher.hpp"

#include "core/this_thread.hpp"
#include "crypto/random.hpp"
#include "password/bcrypt.hpp"
#include "password/imported_hash.hpp"

namespace gatehouse::password {
namespace {
constexpr Argon2Params kArgon2Floor{};
}  // namespace

core::Result<PasswordHasher> PasswordHasher::create(const HashPolicy& policy) {
  if (policy.bcrypt_cost < kBcryptMinCost || policy.bcrypt_cost > kBcryptMaxCost) {
    return core::makeError(core::Errc::InvalidArgument, "bcrypt cost must be between 10 and 31");
  }
  const Argon2Params& a = policy.argon2;
  if (a.memory_kib < kArgon2Floor.memory_kib || a.iterations < kArgon2Floor.iterations ||
      a.parallelism < kArgon2Floor.parallelism || a.parallelism > 64 ||
      a.memory_kib > 4U * 1024U * 1024U) {
    return core::makeError(core::Errc::InvalidArgument,
                           "argon2id parameters must be at least m=19456, t=2, p=1");
  }
  // The dummy hash is of a random secret nobody knows, made with the live policy so that its
  // verification costs what a real one does.
  auto secret = crypto::randomToken(24);
  if (!secret) return tl::unexpected(secret.error());
  std::shared_future<std::string> dummy =
      std::async(std::launch::async, [policy, secret = std::move(*secret)] {
        // Made in the background at nice 10: it must not slow the start (on two cores it
        // took a third of the start-up time), yet it must not wait for idle CPU either: a
        // login for an unknown user waits for it, and a long wait would tell unknown users
        // from known ones.
        core::nameThisThread("gh-hash");
        core::lowerThisThread(10);
        auto hash = policy.scheme == Scheme::Bcrypt ? bcryptHash(secret, policy.bcrypt_cost)
                                                    : argon2idHash(secret, policy.argon2);
        // Only a failing CSPRNG or library makes this fail; a hash of another password under
        // the same policy still costs the same to check.
        return hash ? *hash : std::string();
      }).share();
  return PasswordHasher(policy, std::move(dummy));
}

core::Status PasswordHasher::acceptable(std::string_view password) const {
  if (password.size() > kMaxPasswordBytes) {
    return core::makeError(core::Errc::InvalidArgument, "Password must be at most 1024 bytes");
  }
  if (policy_.scheme == Scheme::Bcrypt) {
    if (password.size() > kBcryptMaxPasswordBytes) {
      return core::makeError(core::Errc::InvalidArgument,
                             "Password must be at most 72 bytes (UTF-8)");
    }
    if (password.find('\0') != std::string_view::npos) {
      return core::makeError(core::Errc::InvalidArgument,
                             "Password must not contain NUL characters");
    }
  }
  return {};
}

core::Result<std::string> PasswordHasher::hash(std::string_view password) const {
  if (auto ok = acceptable(password); !ok) return tl::unexpected(ok.error());
  if (policy_.scheme == Scheme::Bcrypt) return bcryptHash(password, policy_.bcrypt_cost);
  return argon2idHash(password, policy_.argon2);
}

bool PasswordHasher::verify(std::string_view password, std::string_view encoded) const {
  if (password.size() > kMaxPasswordBytes) return verifyDummy({});
  if (isBcryptHash(encoded)) return bcryptVerify(password, encoded);
  if (isArgon2idHash(encoded)) return argon2idVerify(password, encoded);
  if (isImportedHash(encoded)) return verifyImported(password, encoded);
  return verifyDummy(password);
}

bool PasswordHasher::verifyDummy(std::string_view password) const {
  const std::string& dummy = dummy_hash_.get();
  if (policy_.scheme == Scheme::Bcrypt) (void)bcryptVerify(password, dummy);
  if (policy_.scheme == Scheme::Argon2id) (void)argon2idVerify(password, dummy);
  return false;
}

bool PasswordHasher::needsRehash(std::string_view encoded) const {
  if (policy_.scheme == Scheme::Bcrypt) {
    const auto cost = bcryptCost(encoded);
    return !cost || *cost < policy_.bcrypt_cost;
  }
  const auto params = argon2idParams(encoded);
  return !params || params->memory_kib < policy_.argon2.memory_kib ||
         params->iterations < policy_.argon2.iterations ||
         params->parallelism < policy_.argon2.parallelism;
}

}  // namespace gatehouse::password
