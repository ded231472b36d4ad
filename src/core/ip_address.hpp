#pragma once

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

// The client a request came from: `peer` (canonical) itself unless it is one of `trusted`
// (canonical addresses); then the right-most hop of `forwarded` (every X-Forwarded-For value, in
// order: one list, RFC 9110 §5.3) that is not trusted, in canonical spelling. At a hop that is no
// address nothing further left is believed, and the nearest trusted hop stands for the client.
// For the pipeline (audit, logs, limits) and the server (the body budget's share) alike.
std::string forwardedClient(std::string_view peer, const std::vector<std::string_view>& forwarded,
                            const std::vector<std::string>& trusted);
// The same from a request's header fields (lower-case names, as http::Request holds them): its
// X-Forwarded-For lines, in order.
std::string forwardedClient(std::string_view peer,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::vector<std::string>& trusted);

// `addresses` each in its canonical spelling (one that is no address stays as written, and
// matches nothing a canonical address can be): how the trusted proxies are compared.
std::vector<std::string> canonicalAddresses(std::vector<std::string> addresses);

}  // namespace gatehouse::core
