#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/client_info.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"
#include "auth/revocations.hpp"
#include "auth/session_end.hpp"
#include "auth/sessions.hpp"
#include "auth/token_check.hpp"
#include "auth/verified_tokens.hpp"
#include "core/blocking.hpp"
#include "core/clock.hpp"
#include "core/sharded_mutex.hpp"
#include "rbac/policy.hpp"
#include "store/store.hpp"

namespace gatehouse::auth {

// The pages' sign-in (API.md, Pages for people): a server-side session like any other (listed and
// ended by the sessions API) whose credential is the `gatehouse_session` cookie instead of a token
// pair. The cookie is opaque: the session's id, user, sign-in time and methods and the granted
// permissions, sealed with AES-256-GCM under a key of its own. A sealed cookie cannot be forged,
// but it would outlive its session if nothing looked: every node checks the session in storage at
// least every `recheck` (shorter than the access-token lifetime, for which ended sessions stay on
// the revocation list that every node hears at once), so an ended session's cookie is refused
// everywhere. The permissions travel as the sign-in's role name when they are all of it (so the
// cookie stays small however many permissions a policy grants), intersected as a token's scopes
// are with the role's permissions of the moment. A cookie opened once is remembered by the SHA-256
// of its exact bytes (a VerifiedTokens cache): the next request with it skips the decoding, the
// AES-GCM open and the JSON parse; its expiry, the revocation list and the session's recheck
// still apply to every request. Thread-safe.
class BrowserSessions {
 public:
  struct Settings {
    std::string sealing_key;  // 32 bytes
    std::chrono::seconds recheck{60};
  };
  struct Deps {
    store::Store& store;
    Sessions& sessions;
    TokenCheck& check;
    const rbac::Policy& policy;
    RevocationList& revocations;
    SessionEnd& end;
    audit::AuditLog& audit;
    const core::Clock& clock;
    Settings settings;
  };
  explicit BrowserSessions(Deps deps) : d_(std::move(deps)) {}

  static constexpr std::string_view kCookieName = "gatehouse_session";
  // A longer cookie is refused before it is decoded.
  static constexpr std::size_t kMaxCookieBytes = 4096;

  struct Started {
    std::string cookie;  // the cookie's value
    std::string session_id;
    std::int64_t expires_at = 0;
  };
  // A new session for a signed-in user (InvalidCredentials when the account changed meanwhile).
  [[nodiscard]] Result<Started> start(const SignedIn& who, const ClientInfo& client);
  // The cookie's principal: InvalidToken (forged, expired, session ended, account changed),
  // InactiveUser, Unavailable; WouldBlock with Wait::No when storage must be read.
  [[nodiscard]] Result<Principal> authenticate(std::string_view cookie,
                                               core::Wait wait = core::Wait::Yes);
  // Ends the principal's session (sign-out), audited as a logout.
  [[nodiscard]] Result<void> end(const Principal& who, const ClientInfo& client);

  // Whether `claims` came from a cookie (a browser session) rather than an access token.
  static bool isBrowserSession(const jose::Claims& claims);

 private:
  std::optional<jose::Claims> open(std::string_view cookie) const;
  bool recentlyChecked(const std::string& sid, std::int64_t now) const;
  void noteChecked(const std::string& sid, std::int64_t now);

  Deps d_;
  // Read on every cookie check (forward-auth's hot path): readers share their own shard.
  mutable core::ShardedSharedMutex mutex_;
  std::unordered_map<std::string, std::int64_t> checked_;  // session id -> when storage said live
  VerifiedTokens opened_;                                  // cookie bytes -> what they opened to
};

}  // namespace gatehouse::auth
