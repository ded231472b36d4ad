#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/client_info.hpp"
#include "auth/errors.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "state/limits.hpp"

namespace gatehouse::auth {

// The counter and lockout key of an account as the client typed it (an email or a username):
// lower-cased, and a digest when long, so a spray of long made-up names costs a bounded number
// of bytes per key and unknown and known accounts behave the same.
std::string accountKey(std::string_view identifier);

// The lockout key of an existing account, whichever spelling signed in (its email or its
// username): each counted apart gave an attacker twice the guesses before the lock (an outside
// attack). An identifier that names no account counts under lockoutKeyOfName: the two kinds of
// key can never be the same, whatever is typed.
std::string lockoutKey(std::int64_t user_id);
std::string lockoutKeyOfName(std::string_view identifier);

// The counter key of the mailbox an address may reach, for the limits on the mails anyone can aim
// at an address: the accountKey of the address without the local part's subaddress ("+tag"), and
// at Gmail (gmail.com and googlemail.com, one domain) without its dots. Many providers deliver
// "Victim+1@x" to victim@x, and Gmail "v.ictim@x" too; each spelling counted apart let accounts
// asking for mails to them bomb one mailbox (found by an outside attack). Elsewhere "v.ictim@" is
// another mailbox: counted together, its notices spent an unverified owner's count unseen (an
// outside attack, stop 60). Not for the notices to a verified account's own address, which
// another account at such a spelling could spend.
std::string mailboxKey(std::string_view address);

// The budgets a notice spends: EMAIL_RATE_LIMIT per recipient, EMAIL_IP_RATE_LIMIT per client
// address (RateCheck::spendNoticeBudget).
struct NoticeLimits {
  config::RateLimit per_recipient;
  config::RateLimit per_client_address;
};

// Counts a request against a rate limit under several keys (API.md, Rate limits): RateLimited
// with Retry-After at the first refused key, Unavailable when the shared counters cannot be
// reached. Refusals are counted in the metrics and audited once per key and window. Thread-safe.
class RateCheck {
 public:
  RateCheck(state::RateLimiter& limiter, metrics::Registry& metrics, audit::AuditLog& audit,
            const core::Clock& clock)
      : limiter_(limiter), metrics_(metrics), audit_(audit), clock_(clock) {}

  // The keys are tried in order, stopping at the first refusal: a refused request creates no
  // counters for the keys after it (a spray of made-up account names from one address adds
  // nothing once the address is refused). `what` names the limit in the audit trail.
  // `first_refusal`, when given, says whether this refusal is its key's first in the window.
  [[nodiscard]] Result<void> hit(const std::vector<std::string>& keys,
                                 const config::RateLimit& limit, const ClientInfo& client,
                                 const std::string& what, bool* first_refusal = nullptr);

  // The budget of a notice of `kind` to an account's own `address` (EMAIL_RATE_LIMIT, `limit`):
  // that address exactly, each kind apart (per mailbox, another account at a spelling of it spent
  // it on notices of its own and held back the owner's: a review), and, while the address is
  // unverified, also its mailbox, each kind apart (accounts at "victim+1@", "victim+2@"... each
  // with an address budget bombed one mailbox: a second review). A verified owner's notices never
  // spend the mailbox's; an unverified owner's can be held back by such accounts. False: over it,
  // or the counters out of reach; the notice is not sent.
  // While the address is unverified, a notice also spends the client address's budget, one for
  // every kind (`per_client_address`): each account one address registered sent five of each
  // kind an hour to an address of its choosing, about 6,000 mails an hour from one address (a
  // review of the verification requests' limit). The first of its kind to an address in the
  // window spends a budget of its own, eight times that, so a thief silencing an owner's first
  // notice must spend it all first. A verified owner's notices never spend either.
  [[nodiscard]] bool spendNoticeBudget(const NoticeLimits& limits, std::string_view kind,
                                       std::string_view address, bool verified,
                                       const ClientInfo& client);

 private:
  state::RateLimiter& limiter_;
  metrics::Registry& metrics_;
  audit::AuditLog& audit_;
  const core::Clock& clock_;
};

}  // namespace gatehouse::auth
