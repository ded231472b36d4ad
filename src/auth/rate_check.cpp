#include "auth/rate_check.hpp"

#include <algorithm>

#include "core/ascii.hpp"
#include "core/base64url.hpp"
#include "core/ip_address.hpp"
#include "crypto/digest.hpp"

namespace gatehouse::auth {

std::string accountKey(std::string_view identifier) {
  std::string key = core::lowerAscii(identifier);
  if (key.size() <= 64) return key;
  return "#" + core::hexEncode(crypto::sha256(key)).substr(0, 32);
}

// Two namespaces no typed name can reach across: a name is counted as "name:<accountKey>" (a
// review: with names counted bare, typing "user:1" counted on account 1's own counter, and any
// anonymous client locked any account out by its id).
std::string lockoutKey(std::int64_t user_id) { return "account:" + std::to_string(user_id); }

std::string lockoutKeyOfName(std::string_view identifier) {
  return "name:" + accountKey(identifier);
}

std::string mailboxKey(std::string_view address) {
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) return accountKey(address);
  const std::string_view local = address.substr(0, std::min(at, address.find('+')));
  std::string mailbox;
  mailbox.reserve(address.size());
  for (const char ch : local) {
    if (ch != '.') mailbox += ch;
  }
  mailbox += address.substr(at);
  return accountKey(mailbox);
}

Result<void> RateCheck::hit(const std::vector<std::string>& keys, const config::RateLimit& limit,
                            const ClientInfo& client, const std::string& what,
                            bool* first_refusal) {
  const std::int64_t now = clock_.unixSeconds();
  std::int64_t retry_after = 0;
  bool first = false;
  for (const auto& key : keys) {
    const auto decision = limiter_.hit(key, limit.count, limit.window, now);
    if (!decision) return fail(Errc::Unavailable, "rate limiter: " + decision.error().message);
    if (!decision->allowed) {
      retry_after = decision->retry_after;
      first = decision->first_refusal;
      break;
    }
  }
  if (retry_after == 0) return {};
  if (first_refusal != nullptr) *first_refusal = first;
  metrics_.rateLimited();
  // Audited once per key and window, so a flood does not flood the audit log too.
  if (first)
    audit_.record(
        auditEvent("rate_limited", client, std::nullopt, std::nullopt, {{"endpoint", what}}));
  return tl::unexpected(Error{Errc::RateLimited, what + " rate limit", {}, retry_after});
}

bool RateCheck::spendNoticeBudget(const NoticeLimits& limits, std::string_view kind,
                                  std::string_view address, bool verified,
                                  const ClientInfo& client) {
  const std::string name(kind);
  // The client address first: refused there, no recipient's budget is spent. Not for a
  // recipient's first notice of the kind in the window: else a thief spent its own address's
  // count on throwaway accounts first and the owner heard nothing of the change (a review); the
  // volume one address can send stays one of each kind per account an hour.
  if (!verified) {
    const auto first = limiter_.hit("first-" + name + ":email:" + accountKey(address), 1,
                                    limits.per_recipient.window, clock_.unixSeconds());
    if ((!first || !first->allowed) &&
        !hit({"unverified-notice:ip:" + core::addressBucket(client.ip)}, limits.per_client_address,
             client, "unverified-notice")) {
      return false;
    }
  }
  if (!hit({name + ":email:" + accountKey(address)}, limits.per_recipient, client, name))
    return false;
  return verified || hit({"unverified-" + name + ":email:" + mailboxKey(address)},
                         limits.per_recipient, client, name)
                         .has_value();
}

}  // namespace gatehouse::auth
