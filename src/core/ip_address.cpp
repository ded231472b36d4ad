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

std::string forwardedClient(std::string_view peer, const std::vector<std::string_view>& forwarded,
                            const std::vector<std::string>& trusted) {
  const auto isTrusted = [&trusted](std::string_view address) {
    return std::find(trusted.begin(), trusted.end(), address) != trusted.end();
  };
  if (trusted.empty() || !isTrusted(peer)) return std::string(peer);
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
    if (!isTrusted(*hop)) return std::move(*hop);
    nearest = std::move(*hop);
  }
  return nearest;
}

std::string forwardedClient(std::string_view peer,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::vector<std::string>& trusted) {
  if (trusted.empty()) return std::string(peer);
  std::vector<std::string_view> lines;
  for (const auto& [name, value] : headers) {
    if (name == "x-forwarded-for") lines.emplace_back(value);
  }
  return forwardedClient(peer, lines, trusted);
}

std::vector<std::string> canonicalAddresses(std::vector<std::string> addresses) {
  for (auto& address : addresses) {
    if (auto canonical = canonicalAddress(address)) address = std::move(*canonical);
  }
  return addresses;
}

}  // namespace gatehouse::core
