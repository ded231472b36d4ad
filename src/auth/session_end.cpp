#include "auth/session_end.hpp"

#include "auth/claims.hpp"
#include "core/log.hpp"

namespace gatehouse::auth {

Result<std::vector<std::string>> SessionEnd::liveSessionsOf(std::int64_t user_id) {
  // Sessions whose refresh token expired less than an access-token lifetime ago may still have
  // live access tokens: they are ended too.
  const std::int64_t now = clock_.unixSeconds();
  auto live = store_.sessions().listForUser(user_id, now - access_ttl_.count());
  if (!live) return tl::unexpected(storeFailure(live.error()));
  std::vector<std::string> ids;
  ids.reserve(live->size());
  for (auto& session : *live) ids.push_back(std::move(session.id));
  return ids;
}

Result<void> SessionEnd::endTokens(const std::vector<std::string>& session_ids) {
  for (const auto& id : session_ids) {
    if (auto ok = endTokens(id); !ok) return ok;
  }
  return {};
}

Result<void> SessionEnd::endTokens(const std::string& session_id) {
  // Every access token of the session: they live at most access_ttl from now.
  if (auto ok = revocations_.revokeSession(session_id, tokensUntil()); !ok)
    return tl::unexpected(storeFailure(ok.error()));
  return {};
}

bool SessionEnd::endedByList(const std::string& session_id) {
  if (!revocations_.isSessionRevoked(session_id)) return false;
  if (auto ok = store_.sessions().revoke(session_id); !ok)
    spdlog::warn("a session on the revocation list could not be ended in storage yet: {}",
                 ok.error().message);
  return true;
}

Result<void> SessionEnd::end(const std::string& session_id) {
  // The tokens first, then the session: a crash or a lost connection between the two leaves a
  // session still listed whose tokens are already refused, which a retry ends; the other order
  // left it ended in the list (a retry: 404) with its access tokens valid on every node until
  // they expired (an outside attack).
  if (auto ok = endTokens(session_id); !ok) return ok;
  if (auto ok = store_.sessions().revoke(session_id); !ok)
    return tl::unexpected(storeFailure(ok.error()));
  return {};
}

bool SessionEnd::accessTokenLive(const jose::Claims& claims) const {
  const std::string_view sid = sessionOf(claims);
  return claims.exp > clock_.unixSeconds() && !revocations_.isRevoked(claims.jti) &&
         (sid.empty() || !revocations_.isSessionRevoked(sid));
}

Result<bool> SessionEnd::sessionLive(const std::string& session_id) {
  if (session_id.empty()) return false;
  auto session = store_.sessions().find(session_id);
  if (!session) return tl::unexpected(storeFailure(session.error()));
  if (!*session || (*session)->revoked) return false;
  // Expired less than an access-token lifetime ago (as liveSessionsOf counts), its last access
  // tokens may still work (a review: ACCESS_TOKEN_EXPIRE_MINUTES may pass the refresh lifetime).
  const std::int64_t now = clock_.unixSeconds();
  if ((*session)->liveAt(now)) return true;
  return (*session)->expires_at > now - access_ttl_.count() &&
         !revocations_.isSessionRevoked(session_id);
}

}  // namespace gatehouse::auth
