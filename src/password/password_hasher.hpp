#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "password/argon2.hpp"

namespace gatehouse::password {

enum class Scheme { Bcrypt, Argon2id };

// Passwords longer than this are refused before hashing (denial-of-service bound).
inline constexpr std::size_t kMaxPasswordBytes = 1024;

struct HashPolicy {
  Scheme scheme = Scheme::Bcrypt;
  int bcrypt_cost = 12;
  Argon2Params argon2;
};

// The hash unknown users are checked against, kept across starts: made once, in the background,
// it is handed to `keep`; a later start passes it back as `stored` and so spends no hash while
// starting. A stored hash is used only when it has exactly the form a hash under the policy takes
// now (scheme, cost, parameters, lengths, alphabet), so a cheaper or malformed one, which would
// make unknown users fast to refuse, is made again.
struct DummyHash {
  std::string stored;
  std::function<void(const std::string&)> keep;
};

// Hashes new passwords under the configured policy and verifies any supported stored hash
// (bcrypt $2a$/$2b$/$2y$, argon2id, and the imported formats of imported_hash.hpp). Immutable after
// creation, so thread-safe. CPU-heavy: call it from the hashing pool, never from an I/O thread.
class PasswordHasher {
 public:
  // InvalidArgument when the policy is below the floor (bcrypt cost < 10, argon2id under OWASP's
  // m = 19 MiB, t = 2, p = 1).
  [[nodiscard]] static core::Result<PasswordHasher> create(const HashPolicy& policy,
                                                           DummyHash dummy = {});

  // True when `encoded` has exactly the form hash() gives under `policy` (see DummyHash).
  static bool madeUnder(const HashPolicy& policy, std::string_view encoded);

  const HashPolicy& policy() const { return policy_; }

  // InvalidArgument naming the limit when the password cannot be stored exactly under the policy:
  // over 72 bytes or containing NUL for bcrypt, over 1024 bytes for any scheme.
  [[nodiscard]] core::Status acceptable(std::string_view password) const;

  // A new hash; InvalidArgument as acceptable(), Internal on library failure.
  [[nodiscard]] core::Result<std::string> hash(std::string_view password) const;

  // True when `encoded` is a supported hash of `password`; unknown formats are false.
  // Note: a password over 72 bytes is checked against an imported PBKDF2 or argon2i hash as it
  // is (those formats take any length); only new bcrypt hashes refuse it.
  // A false answer for a hash not made under the policy (a cost raised since, an import) takes
  // at least as long as checking the policy's own hash does (policyCheckTime()): it waits out
  // the rest, else accounts whose hash is cheaper answered faster than unknown users, one
  // request each (an enumeration attack: 52 ms against 202 ms after BCRYPT_ROUNDS went from 10
  // to 12). A hash dearer than the policy's still answers slower.
  bool verify(std::string_view password, std::string_view encoded) const;

  // How long checking a hash under the policy has taken of late (a moving average over the
  // dummy's checks and those of policy hashes); zero before the first.
  std::chrono::nanoseconds policyCheckTime() const;

  // Spends the same work as verify() against a real hash under the policy, for unknown users, so
  // response time does not reveal which accounts exist. Always false.
  bool verifyDummy(std::string_view password) const;

  // True when `encoded` uses another scheme or any cost parameter below the policy (passlib's
  // deprecated="auto"), so a successful login should store a fresh hash.
  bool needsRehash(std::string_view encoded) const;

  // True when checking `encoded` asks far more than the policy's own hashes, as an imported hash
  // may (within the import bounds): argon2 (id or i) over eight times the policy's memory or
  // memory x passes, or over four lanes (or the policy's); bcrypt over cost 14 or the policy's
  // plus two; PBKDF2 over 2,000,000 iterations' work. The server checks such hashes on a pool of
  // their own, one at a time and at most one per hashing thread waiting: five wrong passwords a
  // minute at one account with a 1 GiB x 4 argon2 hash held both hashing threads for 33 s of
  // every minute, 2 GiB of memory, and everyone's logins waited 25 s (an outside attack). Under
  // the default policy (19 MiB x 2), common imports (Authelia's 64 MiB x 3 x 4 lanes, RFC 9106's
  // second recommendation, Keycloak's PBKDF2-SHA512 at 210,000) are not dear.
  bool dear(std::string_view encoded) const;

 private:
  PasswordHasher(HashPolicy policy, std::shared_future<std::string> dummy)
      : policy_(policy), dummy_hash_(std::move(dummy)) {}
  // Whether checking `encoded` costs at most the import bounds or the policy's own hashes.
  bool affordable(std::string_view encoded) const;
  // verify() without the wait.
  bool check(std::string_view password, std::string_view encoded) const;
  // Adds the time since `began` of a check under the policy to the moving average.
  void notePolicyCheck(std::chrono::steady_clock::time_point began) const;

  HashPolicy policy_;
  // Kept from an earlier start, else made in the background at creation (a cost-12 bcrypt takes
  // ~0.2 s, which startup should not wait for); verifyDummy() waits for it only if called within
  // that time.
  std::shared_future<std::string> dummy_hash_;
  // policyCheckTime() in nanoseconds, shared by the copies of this hasher (it is handed around
  // by value); relaxed: a lost update only makes the average lag a check.
  std::shared_ptr<std::atomic<std::int64_t>> policy_check_ns_ =
      std::make_shared<std::atomic<std::int64_t>>(0);
};

}  // namespace gatehouse::password
