#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "auth/errors.hpp"
#include "auth/legacy_tokens.hpp"
#include "auth/principal.hpp"
#include "auth/revocations.hpp"
#include "auth/tokens.hpp"
#include "auth/user_cache.hpp"
#include "core/blocking.hpp"
#include "rbac/policy.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// Bearer access tokens to principals (API.md, Tokens): the hot path. From memory when nothing
// changed; storage only on a user-cache miss or a token from the very second of a kill.
// Thread-safe.
class TokenCheck {
 public:
  struct Deps {
    store::Store& store;
    const TokenService& tokens;
    const rbac::Policy& policy;
    RevocationList& revocations;
    UserCache& users;
    const core::Clock& clock;
  };
  explicit TokenCheck(Deps deps) : d_(deps) {}

  // The roles and their permissions tokens are checked against.
  const rbac::Policy& policy() const { return d_.policy; }

  // The provider's access tokens (RFC 9068, signed with its own key): a token the API's key set
  // does not know is offered to `verifier`. Set once at startup, before serving.
  using Verifier = std::function<tl::expected<jose::Claims, jose::JwtError>(std::string_view)>;
  void acceptAlso(Verifier verifier) { also_ = std::move(verifier); }
  // The seed's access tokens, tried after ours (LEGACY_SECRET_KEY). Set once at startup.
  void acceptLegacy(const LegacyTokens* legacy) { legacy_ = legacy; }

  // Both halves below: InvalidToken (bad, expired, revoked, voided by a password change, unknown
  // user), InactiveUser; WouldBlock with Wait::No when the answer needs storage.
  [[nodiscard]] Result<Principal> authenticate(std::string_view bearer,
                                               core::Wait wait = core::Wait::Yes);
  // The first half, from memory only: signature with the pinned algorithm, type, expiry, and the
  // revoked token ids. InvalidToken, or Unavailable while this node may have missed revocations.
  // The claims are shared with the node's cache of verified tokens (TokenService).
  [[nodiscard]] Result<std::shared_ptr<const jose::Claims>> checkAccessToken(
      std::string_view bearer) const;
  // The second half, for claims checkAccessToken accepted: the user (InactiveUser first, as the
  // contract wants), the ended sessions, the watermark, the permissions. InvalidToken,
  // InactiveUser; WouldBlock with Wait::No when storage is needed.
  [[nodiscard]] Result<Principal> principalFor(std::shared_ptr<const jose::Claims> claims,
                                               core::Wait wait = core::Wait::Yes);
  // Whether `who`'s token is still good now, read from storage (not the cache): InvalidToken
  // when its session ended or the account changed since. Called after creating something with
  // it (an API key), so a change racing that creation cannot leave the creation behind. With
  // `same_role`, also Forbidden when the caller's role moved (asked before a write the caller's
  // rights allowed, another's password: a demotion during the hashing is seen, one committed
  // between this read and the write is not).
  [[nodiscard]] Result<void> stillValid(const Principal& who, bool same_role = false);
  // RFC 9470 step-up: the token's auth_time at most `max_age` seconds old and, when the user has
  // a second factor, its amr holding one ("otp", or a passkey's "hwk"/"swk"; a recovery code
  // does not count). StepUpRequired
  // (carrying max_age) otherwise, and always for API keys.
  [[nodiscard]] Result<void> stepUp(const Principal& who, std::int64_t max_age) const;
  // Step-up's second half alone, for where a ceremony begun under step-up ends: when the user has
  // a second factor, the token proves one, however old the sign-in. StepUpRequired (carrying
  // max_age, for the client's next sign-in) otherwise, and always for API keys and clients.
  [[nodiscard]] Result<void> factorProof(const Principal& who, std::int64_t max_age) const;

 private:
  Deps d_;
  Verifier also_;
  const LegacyTokens* legacy_ = nullptr;
};

}  // namespace gatehouse::auth
