#include "core/ip_address.hpp"

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

TEST(CanonicalAddress, OneSpellingPerAddress) {
  EXPECT_EQ(canonicalAddress("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(canonicalAddress("2001:DB8:0:0::1"), "2001:db8::1");
  EXPECT_EQ(canonicalAddress("2001:db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  EXPECT_EQ(canonicalAddress("::ffff:192.0.2.7"), "192.0.2.7");  // IPv4-mapped: its IPv4
  EXPECT_EQ(canonicalAddress("::1"), "::1");
}

TEST(CanonicalAddress, PortsAndBracketsAreDropped) {
  EXPECT_EQ(canonicalAddress("1.2.3.4:5555"), "1.2.3.4");
  EXPECT_EQ(canonicalAddress("1.2.3.4:65535"), "1.2.3.4");
  EXPECT_EQ(canonicalAddress("[2001:db8::1]:443"), "2001:db8::1");
  EXPECT_EQ(canonicalAddress("[2001:db8::1]"), "2001:db8::1");
}

TEST(CanonicalAddress, AnythingElseIsNotAnAddress) {
  for (const char* text : {"",
                           "unknown",
                           "6.6.6.6 method=GET path=/admin",
                           "1.2.3.4:",
                           "1.2.3.4:x",
                           "1.2.3.4:123456",
                           "[2001:db8::1",
                           "[2001:db8::1]x",
                           "[1.2.3.4]",
                           "01.2.3.4",
                           "1.2.3.4:65536",
                           "1.2.3.4:99999",
                           "1.2.3",
                           "256.1.1.1",
                           "2001:db8::1%eth0",
                           "fe80::1:",
                           "1.2.3.4\n",
                           " 1.2.3.4",
                           "_hidden",
                           "example.com"}) {
    EXPECT_EQ(canonicalAddress(text), std::nullopt) << text;
  }
  EXPECT_EQ(canonicalAddress(std::string(300, '1')), std::nullopt);
}

TEST(AddressBucket, IPv4ByAddressIPv6ByItsSlash64) {
  EXPECT_EQ(addressBucket("203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(addressBucket("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(addressBucket("2001:db8:1:2::1"), addressBucket("2001:db8:1:2:ffff::9"));
  EXPECT_NE(addressBucket("2001:db8:1:2::1"), addressBucket("2001:db8:1:3::1"));
  EXPECT_EQ(addressBucket("::1"), "::/64");
  // On a dual-stack listener an IPv4 client is IPv4-mapped: its own bucket, not one /64 that
  // every IPv4 client shares (a review found them all in "::/64").
  EXPECT_EQ(addressBucket("::ffff:127.0.0.66"), "127.0.0.66");
  EXPECT_NE(addressBucket("::ffff:127.0.0.66"), addressBucket("::ffff:127.0.0.1"));
  EXPECT_EQ(addressBucket("2001:DB8:1:2::1"), "2001:db8:1:2::/64");
}

TEST(ForwardedClient, EveryLineRightToLeftAddressesOnly) {
  const std::vector<std::string> trusted = {"127.0.0.1", "10.0.0.9"};
  using Lines = std::vector<std::string_view>;
  EXPECT_EQ(forwardedClient("203.0.113.1", Lines{"198.51.100.1"}, trusted), "203.0.113.1");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{}, trusted), "127.0.0.1");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{"198.51.100.1", "203.0.113.7"}, trusted),
            "203.0.113.7");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{"198.51.100.1", "203.0.113.7, 10.0.0.9"}, trusted),
            "203.0.113.7");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{"junk, 10.0.0.9"}, trusted), "10.0.0.9");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{" , [2001:DB8::1]:443 ,"}, trusted), "2001:db8::1");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{"198.51.100.1"}, {}), "127.0.0.1");
  // From a request's fields: its X-Forwarded-For lines only, in order.
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"x-forwarded-for", "198.51.100.1"},
      {"x-real-ip", "192.0.2.1"},
      {"x-forwarded-for", "203.0.113.7"}};
  EXPECT_EQ(forwardedClient("127.0.0.1", headers, trusted), "203.0.113.7");
  EXPECT_EQ(canonicalAddresses({"::ffff:127.0.0.1", "10.0.0.0/8"}),
            (std::vector<std::string>{"127.0.0.1", "10.0.0.0/8"}));
}

}  // namespace
}  // namespace gatehouse::core
