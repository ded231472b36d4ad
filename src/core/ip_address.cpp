#include "core/ip_address.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cstring>

#include "core/ascii.hpp"

namespace gatehouse::core {

bool isPort(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

namespace {

std::optional<std::string> v4(std::string_view text) {
  if (text.size() > INET_ADDRSTRLEN) return std::nullopt;
  const std::string z(text);
  in_addr a{};
  if (inet_pton(AF_INET, z.c_str(), &a) != 1) return std::nullopt;
  std::array<char, INET_ADDRSTRLEN> out{};
  if (inet_ntop(AF_INET, &a, out.data(), out.size()) == nullptr) return std::nullopt;
  return std::string(out.data());
}

std::optional<std::string> v6(std::string_view text) {
  if (text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string z(text);
  in6_addr a{};
  if (inet_pton(AF_INET6, z.c_str(), &a) != 1) return std::nullopt;
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    in_addr four{};
    std::memcpy(&four, &a.s6_addr[12], sizeof four);
    std::array<char, INET_ADDRSTRLEN> out{};
    if (inet_ntop(AF_INET, &four, out.data(), out.size()) == nullptr) return std::nullopt;
    return std::string(out.data());
  }
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (inet_ntop(AF_INET6, &a, out.data(), out.size()) == nullptr) return std::nullopt;
  return std::string(out.data());
}

}  // namespace

std::optional<std::string> canonicalAddress(std::string_view text) {
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view after = text.substr(close + 1);
    if (!after.empty() && !(after.starts_with(':') && isPort(after.substr(1)))) return std::nullopt;
    return v6(text.substr(1, close - 1));
  }
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return v4(text);
  if (text.find(':', colon + 1) == std::string_view::npos) {  // one colon: IPv4 and a port
    if (!isPort(text.substr(colon + 1))) return std::nullopt;
    return v4(text.substr(0, colon));
  }
  return v6(text);
}

std::string addressBucket(std::string_view address) {
  // Canonical first: an IPv4-mapped address is its IPv4, never the /64 every such one shares.
  const std::string z = canonicalAddress(address).value_or(std::string(address));
  if (z.find(':') == std::string::npos) return z;
  in6_addr a{};
  if (inet_pton(AF_INET6, z.c_str(), &a) != 1) return z;
  std::memset(&a.s6_addr[8], 0, 8);
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (inet_ntop(AF_INET6, &a, out.data(), out.size()) == nullptr) return z;
  return std::string(out.data()) + "/64";
}

namespace {

// The bytes of an address canonicalAddress takes, an IPv4-mapped one as its IPv4.
std::optional<AddressSet::Range> addressBytes(std::string_view text);

}  // namespace

std::optional<AddressSet> AddressSet::parse(const std::vector<std::string>& entries,
                                            std::string* bad) {
  AddressSet set;
  for (const std::string& entry : entries) {
    const auto slash = entry.find('/');
    const std::string_view address = std::string_view(entry).substr(0, slash);
    // Written plainly: no brackets or port, which a proxy's own address never has.
    auto range = address.find_first_of("[]") == std::string_view::npos &&
                         (address.find(':') == std::string_view::npos ||
                          address.find(':') != address.rfind(':'))
                     ? addressBytes(address)
                     : std::nullopt;
    if (range && slash != std::string::npos) {
      const std::string_view bits = std::string_view(entry).substr(slash + 1);
      const int most = range->v4 ? 32 : 128;
      int prefix = 0;
      const bool digits =
          !bits.empty() && bits.size() <= 3 &&
          std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (digits) prefix = std::stoi(std::string(bits));
      // An IPv4-mapped range is written in IPv6 bits (::ffff:10.0.0.0/104 is 10.0.0.0/8): its
      // address became IPv4 above, so its prefix counts 96 bits fewer (a review: /104 was
      // refused, and ::ffff:10.0.0.0/8 quietly meant 10.0.0.0/8).
      const bool mapped = range->v4 && address.find(':') != std::string_view::npos;
      if (mapped) prefix = prefix >= 96 ? prefix - 96 : -1;
      // A range this wide trusts most of the Internet to name its own address (every limit per
      // client is then the client's to dodge): /8 at the widest, in either family.
      if (!digits || prefix < 8 || prefix > most || (bits.size() > 1 && bits.front() == '0')) {
        range.reset();
      } else {
        range->prefix = prefix;
        // No bits past the prefix: "10.0.0.1/8" is a typo for an address or for 10.0.0.0/8.
        Range masked = *range;
        for (int i = prefix; i < most; ++i)
          masked.bytes[static_cast<std::size_t>(i / 8)] &=
              static_cast<unsigned char>(~(0x80U >> (i % 8)));
        if (masked.bytes != range->bytes) range.reset();
      }
    }
    if (!range) {
      if (bad != nullptr) *bad = entry;
      return std::nullopt;
    }
    set.ranges_.push_back(*range);
  }
  return set;
}

bool AddressSet::covers(const Range& range, const Range& address) {
  if (range.v4 != address.v4) return false;
  const int whole = range.prefix / 8;
  if (!std::equal(range.bytes.begin(), range.bytes.begin() + whole, address.bytes.begin()))
    return false;
  const int rest = range.prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xFFU << (8 - rest));
  return (range.bytes[static_cast<std::size_t>(whole)] & mask) ==
         (address.bytes[static_cast<std::size_t>(whole)] & mask);
}

bool AddressSet::contains(std::string_view address) const {
  if (ranges_.empty()) return false;
  // The peer and every hop come canonical already: read as they are, parsed once.
  const auto bytes = addressBytes(address);
  if (!bytes) return false;
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [&](const Range& range) { return covers(range, *bytes); });
}

namespace {

std::optional<AddressSet::Range> addressBytes(std::string_view text) {
  AddressSet::Range out;
  std::array<char, INET6_ADDRSTRLEN> z{};
  if (text.size() < z.size() && text.find_first_of("[]") == std::string_view::npos) {
    // The common case, an address written plainly (the server's canonical spellings): parsed
    // once, with no string made.
    std::copy(text.begin(), text.end(), z.begin());
    in_addr four{};
    if (inet_pton(AF_INET, z.data(), &four) == 1) {
      out.v4 = true;
      out.prefix = 32;
      std::memcpy(out.bytes.data(), &four, sizeof four);
      return out;
    }
    in6_addr six{};
    if (inet_pton(AF_INET6, z.data(), &six) == 1) {
      if (IN6_IS_ADDR_V4MAPPED(&six)) {
        out.v4 = true;
        out.prefix = 32;
        std::memcpy(out.bytes.data(), &six.s6_addr[12], 4);
        return out;
      }
      out.prefix = 128;
      std::memcpy(out.bytes.data(), &six, sizeof six);
      return out;
    }
  }
  const auto canonical = canonicalAddress(text);
  if (!canonical) return std::nullopt;
  if (canonical->find(':') == std::string::npos) {
    in_addr a{};
    if (inet_pton(AF_INET, canonical->c_str(), &a) != 1) return std::nullopt;
    out.v4 = true;
    out.prefix = 32;
    std::memcpy(out.bytes.data(), &a, sizeof a);
    return out;
  }
  in6_addr a{};
  if (inet_pton(AF_INET6, canonical->c_str(), &a) != 1) return std::nullopt;
  out.prefix = 128;
  std::memcpy(out.bytes.data(), &a, sizeof a);
  return out;
}

}  // namespace

std::string forwardedClient(std::string_view peer, const std::vector<std::string_view>& forwarded,
                            const AddressSet& trusted) {
  if (trusted.empty() || !trusted.contains(peer)) return std::string(peer);
  std::vector<std::string_view> hops;
  for (std::string_view rest : forwarded) {
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      hops.push_back(trimAscii(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  std::string nearest(peer);
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (it->empty()) continue;
    auto hop = canonicalAddress(*it);
    if (!hop) break;
    if (!trusted.contains(*hop)) return std::move(*hop);
    nearest = std::move(*hop);
  }
  return nearest;
}

std::string forwardedClient(std::string_view peer,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const AddressSet& trusted) {
  if (trusted.empty()) return std::string(peer);
  std::vector<std::string_view> lines;
  for (const auto& [name, value] : headers) {
    if (name == "x-forwarded-for") lines.emplace_back(value);
  }
  return forwardedClient(peer, lines, trusted);
}

}  // namespace gatehouse::core
