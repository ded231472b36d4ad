#include "auth/token_check.hpp"

#include "auth/claims.hpp"

namespace gatehouse::auth {

Result<Principal> TokenCheck::authenticate(std::string_view bearer, core::Wait wait) {
  auto claims = checkAccessToken(bearer);
  if (!claims) return tl::unexpected(claims.error());
  return principalFor(std::move(*claims), wait);
}

Result<std::shared_ptr<const jose::Claims>> TokenCheck::checkAccessToken(
    std::string_view bearer) const {
  auto claims = d_.tokens.verifyAccessShared(bearer);
  // Each key set pins its keys' algorithms; a kid only one of them holds picks the set.
  const auto shared = [](jose::Claims c) {
    return std::make_shared<const jose::Claims>(std::move(c));
  };
  if (!claims && claims.error() == jose::JwtError::UnknownKey && also_)
    claims = also_(bearer).map(shared);
  if (!claims && legacy_ != nullptr) {
    if (auto seed = legacy_->verify(bearer, "access")) claims = std::move(seed).map(shared);
  }
  if (!claims) return fail(Errc::InvalidToken, std::string(jose::jwtErrorName(claims.error())));
  const jose::Claims& checked = **claims;
  // With several nodes, a node that may have missed a revocation answers 503, never "valid".
  if (!d_.revocations.live()) return fail(Errc::Unavailable, "revocation feed down");
  if (checked.jti.empty() || d_.revocations.isRevoked(checked.jti)) {
    return fail(Errc::InvalidToken, "revoked access token");
  }
  return std::move(*claims);
}

Result<Principal> TokenCheck::principalFor(std::shared_ptr<const jose::Claims> claims,
                                           core::Wait wait) {
  // A seed token names the seed's user id: import-seed's record says who that is here.
  const auto* legacy_subject = claims->raw.if_contains(LegacyTokens::kSubjectClaim);
  const bool legacy = legacy_subject != nullptr;
  if (legacy) {
    if (wait == core::Wait::No) return fail(Errc::WouldBlock, "legacy subject to read");
    auto id =
        d_.store.users().findByLegacySubject(LegacyTokens::kSource, legacy_subject->get_string());
    if (!id) return tl::unexpected(storeFailure(id.error()));
    if (!*id) return fail(Errc::InvalidToken, "legacy subject was not imported");
    auto here = std::make_shared<jose::Claims>(*claims);
    here->sub = std::to_string(**id);
    claims = std::move(here);  // `legacy_subject` pointed into the claims replaced here
  }
  const auto user_id = userIdOf(*claims);
  if (!user_id) return fail(Errc::InvalidToken, "bad sub");
  auto user = d_.users.get(*user_id, wait);
  if (!user) return tl::unexpected(storeFailure(user.error()));
  if (!*user) return fail(Errc::InvalidToken, "user no longer exists");
  // The contract's 403 for inactive users comes first; once reactivated, tokens from before the
  // deactivation (or a password change) stay void: their sessions ended, and the watermark.
  if (!(*user)->is_active) return fail(Errc::InactiveUser);
  // A seed token proves a password at most: a user with a second factor here signs in again.
  if (legacy && (*user)->mfa_enabled)
    return fail(Errc::InvalidToken, "legacy token for a user with a second factor");
  const std::string_view sid = sessionOf(*claims);
  if (!sid.empty() && d_.revocations.isSessionRevoked(sid)) {
    return fail(Errc::InvalidToken, "the token's session has ended");
  }
  const auto standing =
      againstWatermark(claims->iat.value_or(0), (*user)->tokens_valid_after, !sid.empty());
  if (standing == Watermark::Ended) {
    return fail(Errc::InvalidToken,
                "token issued before the user's password change or deactivation, or in its "
                "second without a session");
  }
  if (standing == Watermark::SessionDecides) {
    // Rare, so a storage read is fine.
    if (wait == core::Wait::No) return fail(Errc::WouldBlock, "same-second token: session to read");
    auto session = d_.store.sessions().find(sid);
    if (!session) return tl::unexpected(storeFailure(session.error()));
    if (!*session || (*session)->revoked)
      return fail(Errc::InvalidToken, "token's session ended by a password change or deactivation");
  }
  Principal p{std::move(*user), {}, std::move(claims), {}, {}};
  if (const auto* client = p.claims().raw.if_contains("client_id"); client && client->is_string()) {
    if (d_.revocations.isClientRevoked(client->get_string()))
      return fail(Errc::InvalidToken, "the token's client was deleted");
    p.client_id = std::string(client->get_string());
  }
  // The seed's tokens carry the role's permissions, as the seed read them.
  p.permissions =
      legacy ? d_.policy.permissionsOf(p.user->role)
             : rbac::effectivePermissions(d_.policy.permissionsOf(p.user->role), p.claims().scopes);
  return p;
}

Result<void> TokenCheck::stepUp(const Principal& who, std::int64_t max_age) const {
  if (auto proof = factorProof(who, max_age); !proof) return proof;
  const std::int64_t auth_time = authTimeOf(who.claims());
  if (auth_time <= 0 || d_.clock.unixSeconds() - auth_time > max_age) {
    return tl::unexpected(Error{
        Errc::StepUpRequired, "the sign-in is older than STEP_UP_MAX_AGE_SECONDS", {}, max_age});
  }
  return {};
}

Result<void> TokenCheck::factorProof(const Principal& who, std::int64_t max_age) const {
  const auto refuse = [max_age](std::string detail) {
    return tl::unexpected(Error{Errc::StepUpRequired, std::move(detail), {}, max_age});
  };
  if (who.api_key_id) return refuse("an API key cannot step up");
  if (!who.client_id.empty()) return refuse("an OpenID client's token cannot step up");
  if (who.user->mfa_enabled && !provesSecondFactor(who.claims()))
    return refuse("the user has a second factor and the sign-in did not use it");
  return {};
}

Result<void> TokenCheck::stillValid(const Principal& who, bool same_role) {
  const std::string_view sid = sessionOf(who.claims());
  if (d_.revocations.isRevoked(who.claims().jti) ||
      (!sid.empty() && d_.revocations.isSessionRevoked(sid)))
    return fail(Errc::InvalidToken, "token ended meanwhile");
  auto fresh = d_.store.users().findById(who.user->id);
  if (!fresh) return tl::unexpected(storeFailure(fresh.error()));
  if (!*fresh || !(*fresh)->is_active ||
      (*fresh)->tokens_valid_after != who.user->tokens_valid_after)
    return fail(Errc::InvalidToken, "account changed meanwhile");
  // Its rights as checked, when asked (an outside attack: an administrator's password set landed
  // after the actor's demotion). Not for every caller: a promotion, or a node's cache a change
  // behind, would refuse a passkey or key the role has nothing to do with (a review).
  if (same_role && (*fresh)->role != who.user->role)
    return fail(Errc::Forbidden, "the caller's role changed meanwhile");
  if (!sid.empty()) {
    auto session = d_.store.sessions().find(sid);
    if (!session) return tl::unexpected(storeFailure(session.error()));
    if (!*session || (*session)->revoked)
      return fail(Errc::InvalidToken, "session ended meanwhile");
  }
  return {};
}

}  // namespace gatehouse::auth
