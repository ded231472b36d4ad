#include "auth/browser_sessions.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "auth/claims.hpp"
#include "core/base64url.hpp"
#include "crypto/aead.hpp"

namespace gatehouse::auth {
namespace {

namespace json = boost::json;

// The AEAD's associated data: a blob sealed for anything else does not open as a cookie.
constexpr std::string_view kLabel = "gatehouse_session v1";
// The jti prefix of a browser session's claims (no access token's jti has it).
constexpr std::string_view kJtiPrefix = "browser:";
// Above this many remembered checks the memory is dropped (each entry is re-read once).
constexpr std::size_t kMaxRemembered = 100000;

}  // namespace

bool BrowserSessions::isBrowserSession(const jose::Claims& claims) {
  return claims.jti.starts_with(kJtiPrefix);
}

Result<BrowserSessions::Started> BrowserSessions::start(const SignedIn& who,
                                                        const ClientInfo& client) {
  // The row's refresh token id is one no token carries: rotation never accepts anything for it.
  auto unusable = newTokenId();
  if (!unusable) return fail(Errc::Internal, "random source failed");
  auto session = d_.sessions.open(who, client, *unusable);
  if (!session) return tl::unexpected(session.error());
  json::object sealed{{"sid", session->id},
                      {"sub", std::to_string(who.user.id)},
                      {"iat", session->created_at},
                      {"exp", session->expires_at},
                      {"auth_time", who.grant.auth_time},
                      {"amr", json::value_from(who.grant.amr)}};
  // All of the role's permissions (a sign-in not narrowed): its name, however long the list.
  if (who.scopes == d_.policy.permissionsOf(who.user.role)) {
    sealed["role"] = who.user.role;
  } else {
    sealed["scopes"] = json::value_from(who.scopes);
  }
  auto blob = crypto::seal(d_.settings.sealing_key, json::serialize(sealed), kLabel);
  if (!blob) return fail(Errc::Internal, blob.error().message);
  std::string cookie = core::base64urlEncode(*blob);
  if (cookie.size() > kMaxCookieBytes) {
    // Browsers drop larger cookies: no session nobody can use is left behind.
    if (auto ended = d_.end.end(session->id); !ended) return tl::unexpected(ended.error());
    return fail(Errc::Internal, "browser session cookie over " + std::to_string(kMaxCookieBytes) +
                                    " bytes (a sign-in narrowed to very many permissions)");
  }
  noteChecked(session->id, session->created_at);
  return Started{std::move(cookie), session->id, session->expires_at};
}

std::optional<jose::Claims> BrowserSessions::open(std::string_view cookie) const {
  if (cookie.empty() || cookie.size() > kMaxCookieBytes) return std::nullopt;
  const auto blob = core::base64urlDecode(cookie);
  if (!blob) return std::nullopt;
  const auto text = crypto::open(d_.settings.sealing_key, *blob, kLabel);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  try {
    jose::Claims claims;
    claims.sub = std::string(o.at("sub").as_string());
    claims.exp = o.at("exp").as_int64();
    claims.iat = o.at("iat").as_int64();
    const std::string sid(o.at("sid").as_string());
    claims.jti = std::string(kJtiPrefix) + sid;
    claims.type = "browser";
    if (const auto* role = o.if_contains("role")) {
      // The role's permissions now; principalFor intersects them with the role's of the moment.
      claims.scopes = d_.policy.permissionsOf(std::string_view(role->as_string()));
    } else {
      for (const auto& s : o.at("scopes").as_array()) claims.scopes.emplace_back(s.as_string());
    }
    claims.raw = {{"sid", sid},
                  {"sub", claims.sub},
                  {"auth_time", o.at("auth_time").as_int64()},
                  {"amr", o.at("amr")}};
    return claims;
  } catch (const std::exception&) {
    return std::nullopt;  // sealed by us, so only an older format could land here
  }
}

bool BrowserSessions::recentlyChecked(const std::string& sid, std::int64_t now) const {
  std::shared_lock lock(mutex_);
  const auto it = checked_.find(sid);
  return it != checked_.end() && now - it->second < d_.settings.recheck.count();
}

void BrowserSessions::noteChecked(const std::string& sid, std::int64_t now) {
  std::unique_lock lock(mutex_);
  if (checked_.size() >= kMaxRemembered) checked_.clear();
  checked_[sid] = now;
}

Result<Principal> BrowserSessions::authenticate(std::string_view cookie, core::Wait wait) {
  if (cookie.empty() || cookie.size() > kMaxCookieBytes)
    return fail(Errc::InvalidToken, "session cookie does not open");
  const auto key = VerifiedTokens::keyOf(cookie);
  std::shared_ptr<const jose::Claims> claims = key ? opened_.find(*key) : nullptr;
  if (!claims) {
    auto fresh = open(cookie);
    if (!fresh) return fail(Errc::InvalidToken, "session cookie does not open");
    claims = opened_.remember(key, std::move(*fresh));
  }
  // A cookie that will never open to a live session again is not kept.
  const auto refuse = [&](const char* why) {
    if (key) opened_.forget(*key);
    return fail(Errc::InvalidToken, why);
  };
  const std::int64_t now = d_.clock.unixSeconds();
  if (claims->exp <= now) return refuse("browser session expired");
  if (!d_.revocations.live()) return fail(Errc::Unavailable, "revocation feed down");
  const std::string sid(sessionOf(*claims));
  if (d_.revocations.isSessionRevoked(sid)) return refuse("the cookie's session has ended");
  if (!recentlyChecked(sid, now)) {
    // An ended session leaves the revocation list one access-token lifetime after it ended;
    // storage says it for ever.
    if (wait == core::Wait::No) return fail(Errc::WouldBlock, "browser session to re-read");
    auto session = d_.store.sessions().find(sid);
    if (!session) return tl::unexpected(storeFailure(session.error()));
    if (!*session || !(*session)->liveAt(now) || std::to_string((*session)->user_id) != claims->sub)
      return refuse("the cookie's session has ended");
    if (auto ok = d_.store.sessions().touch(sid, now); !ok)
      return tl::unexpected(storeFailure(ok.error()));
    noteChecked(sid, now);
  }
  return d_.check.principalFor(std::move(claims), wait);
}

Result<void> BrowserSessions::end(const Principal& who, const ClientInfo& client) {
  const std::string sid(sessionOf(who.claims()));
  if (!sid.empty()) {
    if (auto ok = d_.end.end(sid); !ok) return ok;
  }
  d_.audit.record(auditEvent("logout", client, who.user->id, who.user->id,
                             {{"session_id", sid}, {"method", "browser"}}));
  return {};
}

}  // namespace gatehouse::auth
