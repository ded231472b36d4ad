#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gatehouse::core {

// Digits only, 1-5 of them, at most 65535: a port (0 included).
bool isPort(std::string_view text);

// The address `text` names, in its one spelling: IPv4 as a dotted quad, IPv6 as inet_ntop(3)
// writes it (an IPv4-mapped one as its IPv4). Brackets and a port after the address are dropped
// ("1.2.3.4:5555", "[2001:db8::1]:443", as some proxies write X-Forwarded-For); nullopt when it
// is not an address. "2001:DB8:0:0::1" and "2001:db8::1" are one client, not two (an outside
// attack counted them apart under per-address limits, and logged any text a hop held).
std::optional<std::string> canonicalAddress(std::string_view text);

// What per-address limits count an address under: an IPv4 address (an IPv4-mapped one too) itself;
// an IPv6 address's /64, which one host or subscriber commonly holds whole (a limit per address
// would give it 2^64 budgets). Anything that is no address is returned as it is.
std::string addressBucket(std::string_view address);

// Addresses and ranges in CIDR notation ("10.0.0.7", "10.0.0.0/8", "fd00::/8", "::1"): the
// trusted proxies. An IPv4-mapped IPv6 address is its IPv4, as canonicalAddress spells it. A
// range with bits set past its prefix ("10.0.0.1/8") is refused, as is anything else (a host
// name): TRUSTED_PROXIES once took "10.0.0.0/24" and matched nothing with it, silently (a new
// user's first try).
class AddressSet {
 public:
  AddressSet() = default;
  // The set of `entries`; nullopt, and `bad` the first entry that is neither, otherwise.
  static std::optional<AddressSet> parse(const std::vector<std::string>& entries,
                                         std::string* bad = nullptr);
  // Whether `address` (any spelling canonicalAddress takes) is in the set.
  bool contains(std::string_view address) const;
  bool empty() const { return ranges_.empty(); }

  // One address (prefix 32 or 128) or range.
  struct Range {
    bool v4 = false;
    std::array<unsigned char, 16> bytes{};  // the first 4 for IPv4
    int prefix = 0;
  };

 private:
  static bool covers(const Range& range, const Range& address);
  std::vector<Range> ranges_;
};

// The client a request came from: `peer` (canonical) itself unless it is in `trusted`; then the
// right-most hop of `forwarded` (every X-Forwarded-For value, in order: one list, RFC 9110 §5.3)
// that is not trusted, in canonical spelling. At a hop that is no address nothing further left is
// believed, and the nearest trusted hop stands for the client. For the pipeline (audit, logs,
// limits) and the server (the body budget's share) alike.
std::string forwardedClient(std::string_view peer, const std::vector<std::string_view>& forwarded,
                            const AddressSet& trusted);
// The same from a request's header fields (lower-case names, as http::Request holds them): its
// X-Forwarded-For lines, in order.
std::string forwardedClient(std::string_view peer,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const AddressSet& trusted);

}  // namespace gatehouse::core
