#include "auth/rate_check.hpp"

#include <algorithm>
#include <cstdint>

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
  // Dots fold only where the provider ignores them (Gmail): elsewhere b.obsmith@ is another
  // mailbox, often none, and throwaway accounts there spent bobsmith@'s count unseen, so that a
  // thief's passkey on the owner's account went untold (an outside attack, stop 60). A +tag
  // reaches the same inbox at nearly every provider: folded everywhere.
  const std::string_view domain = address.substr(at + 1);
  const bool googlemail = core::equalsIgnoringCase(domain, "googlemail.com");
  const bool dots_ignored = googlemail || core::equalsIgnoringCase(domain, "gmail.com");
  std::string mailbox;
  mailbox.reserve(address.size());
  for (const char ch : local) {
    if (ch != '.' || !dots_ignored) mailbox += ch;
  }
  // One inbox under both names (a review: each had a budget of its own).
  mailbox += googlemail ? std::string_view("@gmail.com") : address.substr(at);
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
  const auto recipient = [&] {
    return hit({name + ":email:" + accountKey(address)}, limits.per_recipient, client, name) &&
           (verified || hit({"unverified-" + name + ":email:" + mailboxKey(address)},
                            limits.per_recipient, client, name));
  };
  if (verified) return recipient();
  // The client address first: refused there, no recipient's budget is spent. A recipient's
  // first notice of the kind in the window counts on a budget of its own, eight times the other:
  // with one count for all, a thief spent it on throwaway accounts first and the owner heard
  // nothing of the change (a review); free, the first ones let the volume grow with the accounts
  // again, eight kinds an hour each (a second review).
  const std::string first_key = std::string(state::RateLimiter::kMarkerPrefix) + "first-" + name +
                                ":email:" + accountKey(address);
  const auto first = limiter_.hit(first_key, 1, limits.per_recipient.window, clock_.unixSeconds());
  const bool is_first = first && first->allowed;
  const std::string bucket = core::addressBucket(client.ip);
  const config::RateLimit firsts{
      static_cast<std::uint32_t>(
          std::min<std::uint64_t>(std::uint64_t{limits.per_client_address.count} * 8, UINT32_MAX)),
      limits.per_client_address.window};
  const bool sent =
      (is_first ? hit({"unverified-first-notice:ip:" + bucket}, firsts, client, "unverified-notice")
                : hit({"unverified-notice:ip:" + bucket}, limits.per_client_address, client,
                      "unverified-notice"))
          .has_value() &&
      recipient();
  // Not sent, by any budget: the next one to that address is still its first (a review).
  if (!sent && is_first) limiter_.reset(first_key);
  return sent;
}

}  // namespace gatehouse::auth
