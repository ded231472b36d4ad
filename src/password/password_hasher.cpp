#include "password/password_hasher.hpp"

#include <algorithm>
#include <string>
#include <thread>

#include "core/this_thread.hpp"
#include "crypto/random.hpp"
#include "password/bcrypt.hpp"
#include "password/imported_hash.hpp"

namespace gatehouse::password {
namespace {
constexpr Argon2Params kArgon2Floor{};

// `n` characters of `alphabet` at the front of `s`, taken off.
bool takeChars(std::string_view& s, std::size_t n, std::string_view alphabet) {
  if (s.size() < n) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (alphabet.find(s[i]) == std::string_view::npos) return false;
  s.remove_prefix(n);
  return true;
}

bool takePrefix(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

constexpr std::string_view kDigits = "0123456789";
constexpr std::string_view kBcryptAlphabet =
    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

bool PasswordHasher::madeUnder(const HashPolicy& policy, std::string_view s) {
  if (policy.scheme == Scheme::Bcrypt) {
    // $2b$NN$ + 22 characters of salt + 31 of hash, as libxcrypt writes it.
    // (create() keeps the cost between 10 and 31: always two digits.)
    return takePrefix(s, "$2b$" + std::to_string(policy.bcrypt_cost) + "$") &&
           takeChars(s, 53, kBcryptAlphabet) && s.empty();
  }
  // $argon2id$v=19$m=M,t=T,p=P$ + 16 bytes of salt and 32 of hash in unpadded base64.
  const Argon2Params& a = policy.argon2;
  const std::string head = "$argon2id$v=19$m=" + std::to_string(a.memory_kib) +
                           ",t=" + std::to_string(a.iterations) +
                           ",p=" + std::to_string(a.parallelism) + "$";
  // The last character of each carries unused bits, which must be zero: libargon2 refuses the
  // string otherwise before hashing anything (16 bytes leave 4 bits, 32 bytes leave 2).
  return takePrefix(s, head) && takeChars(s, 21, kBase64Alphabet) && takeChars(s, 1, "AQgw") &&
         takePrefix(s, "$") && takeChars(s, 42, kBase64Alphabet) &&
         takeChars(s, 1, "AEIMQUYcgkosw048") && s.empty();
}

core::Result<PasswordHasher> PasswordHasher::create(const HashPolicy& policy, DummyHash dummy) {
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
  if (madeUnder(policy, dummy.stored)) {
    std::promise<std::string> kept;
    kept.set_value(std::move(dummy.stored));
    return PasswordHasher(policy, kept.get_future().share());
  }
  auto secret = crypto::randomToken(24);
  if (!secret) return tl::unexpected(secret.error());
  std::shared_future<std::string> made =
      std::async(std::launch::async, [policy, secret = std::move(*secret),
                                      keep = std::move(dummy.keep)] {
        // Made in the background at nice 10: it must not slow the start (on two cores it
        // took a third of the start-up time), yet it must not wait for idle CPU either: a
        // login for an unknown user waits for it, and a long wait would tell unknown users
        // from known ones. A name of its own: it is no login-hashing thread (those run at
        // SCHED_IDLE, which a test reads off every gh-hash thread; sharing the name, this one
        // made it flaky on a loaded machine).
        core::nameThisThread("gh-dummy");
        core::lowerThisThread(10);
        auto hash = policy.scheme == Scheme::Bcrypt ? bcryptHash(secret, policy.bcrypt_cost)
                                                    : argon2idHash(secret, policy.argon2);
        // Only a failing CSPRNG or library makes this fail; a hash of another password under
        // the same policy still costs the same to check.
        if (!hash) return std::string();
        if (keep) keep(*hash);
        return *hash;
      }).share();
  return PasswordHasher(policy, std::move(made));
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

bool PasswordHasher::affordable(std::string_view encoded) const {
  if (isBcryptHash(encoded)) {
    const auto cost = bcryptCost(encoded);
    return cost && *cost <= std::max(kMaxImportedBcryptCost, policy_.bcrypt_cost);
  }
  if (isArgon2idHash(encoded)) {
    const auto p = argon2idParams(encoded);
    const Argon2Params& mine = policy_.argon2;
    return p && (argon2WithinImportBounds(*p) ||
                 (p->memory_kib <= mine.memory_kib && p->iterations <= mine.iterations &&
                  p->parallelism <= mine.parallelism));
  }
  return true;  // the imported formats' parsers keep to their bounds (isImportedHash)
}

bool PasswordHasher::verify(std::string_view password, std::string_view encoded) const {
  const auto began = std::chrono::steady_clock::now();
  const bool policy_made = madeUnder(policy_, encoded);
  const bool ok = check(password, encoded);
  if (policy_made) {
    notePolicyCheck(began);
  } else if (!ok) {
    const auto floor = policyCheckTime();
    if (floor.count() == 0) {
      (void)verifyDummy(password);  // nothing measured yet: one check under the policy is it
    } else {
      std::this_thread::sleep_until(began + floor);
    }
  }
  return ok;
}

std::chrono::nanoseconds PasswordHasher::policyCheckTime() const {
  return std::chrono::nanoseconds(policy_check_ns_->load(std::memory_order_relaxed));
}

void PasswordHasher::notePolicyCheck(std::chrono::steady_clock::time_point began) const {
  const std::int64_t took =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - began)
          .count();
  const std::int64_t was = policy_check_ns_->load(std::memory_order_relaxed);
  // An eighth of each new check: the average follows the machine's load within a few logins. A
  // check counts at most twice the average (a review): one stretched by a burst of other work
  // (the hashing threads run at SCHED_IDLE) would raise it for long, and known accounts with
  // cheaper hashes would answer slower than unknown names until it came down, each holding a
  // hashing thread the longer.
  const std::int64_t sample = was == 0 ? took : std::min(took, 2 * was);
  policy_check_ns_->store(was == 0 ? sample : was + (sample - was) / 8, std::memory_order_relaxed);
}

bool PasswordHasher::check(std::string_view password, std::string_view encoded) const {
  if (password.size() > kMaxPasswordBytes) return verifyDummy({});
  // A stored hash dearer than both the import bounds and the policy (one imported before the
  // bounds, or written to the database by hand) is not checked: it would hold a hashing thread
  // for as long as it asks. Such an account signs in again after a password reset.
  if (!affordable(encoded)) return verifyDummy(password);
  if (isBcryptHash(encoded)) return bcryptVerify(password, encoded);
  if (isArgon2idHash(encoded)) return argon2idVerify(password, encoded);
  if (isImportedHash(encoded)) return verifyImported(password, encoded);
  return verifyDummy(password);
}

bool PasswordHasher::verifyDummy(std::string_view password) const {
  const std::string& dummy = dummy_hash_.get();
  const auto began = std::chrono::steady_clock::now();  // after any wait for the dummy's making
  if (policy_.scheme == Scheme::Bcrypt) (void)bcryptVerify(password, dummy);
  if (policy_.scheme == Scheme::Argon2id) (void)argon2idVerify(password, dummy);
  if (!dummy.empty()) notePolicyCheck(began);
  return false;
}

bool PasswordHasher::dear(std::string_view encoded) const {
  // Eight times the policy's own argon2 memory or memory x passes; a bcrypt cost two above the
  // policy's (four times), at least 14, as before a review loosened it; PBKDF2 (which the policy
  // never makes) past 2,000,000 iterations' work, about eight of the policy's hashes of a core's
  // time. More lanes than four (or the policy's): libargon2 runs a thread per lane, and 64 of them
  // took every core (a review).
  constexpr std::uint64_t kTimes = 8;
  constexpr std::uint32_t kLanes = 4;
  constexpr int kBcryptSteps = 2;  // 2^2
  constexpr int kBcryptDear = 14;
  constexpr std::int64_t kDearPbkdf2Work = 2'000'000;
  auto argon2 = argon2idParams(encoded);
  if (!argon2) argon2 = argon2iParams(encoded);
  if (argon2) {
    const Argon2Params& mine = policy_.argon2;
    return argon2->memory_kib > kTimes * mine.memory_kib ||
           std::uint64_t{argon2->memory_kib} * argon2->iterations >
               kTimes * mine.memory_kib * mine.iterations ||
           argon2->parallelism > std::max(kLanes, mine.parallelism);
  }
  if (isBcryptHash(encoded)) {
    const auto cost = bcryptCost(encoded);
    return cost && *cost > std::max(kBcryptDear, policy_.bcrypt_cost + kBcryptSteps);
  }
  const auto work = pbkdf2Work(encoded);
  return work && *work > kDearPbkdf2Work;
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
