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
  const AddressSet trusted = AddressSet::parse({"127.0.0.1", "10.0.0.9"}).value();
  using Lines = std::vector<std::string_view>;
  EXPECT_EQ(forwardedClient("203.0.113.1", Lines{"198.51.100.1"}, trusted), "203.0.113.1");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{}, trusted), "127.0.0.1");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{"198.51.100.1", "203.0.113.7"}, trusted),
            "203.0.113.7");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{"198.51.100.1", "203.0.113.7, 10.0.0.9"}, trusted),
            "203.0.113.7");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{"junk, 10.0.0.9"}, trusted), "10.0.0.9");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{" , [2001:DB8::1]:443 ,"}, trusted), "2001:db8::1");
  EXPECT_EQ(forwardedClient("127.0.0.1", Lines{"198.51.100.1"}, AddressSet{}), "127.0.0.1");
  // From a request's fields: its X-Forwarded-For lines only, in order.
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"x-forwarded-for", "198.51.100.1"},
      {"x-real-ip", "192.0.2.1"},
      {"x-forwarded-for", "203.0.113.7"}};
  EXPECT_EQ(forwardedClient("127.0.0.1", headers, trusted), "203.0.113.7");
}

TEST(ForwardedClient, RangesOfProxies) {
  // A cluster's proxies come from a range; every hop in it is passed over.
  const AddressSet trusted = AddressSet::parse({"10.0.0.0/8", "fd00::/8"}).value();
  using Lines = std::vector<std::string_view>;
  EXPECT_EQ(forwardedClient("10.1.2.3", Lines{"203.0.113.7, 10.9.9.9"}, trusted), "203.0.113.7");
  EXPECT_EQ(forwardedClient("fd12::1", Lines{"2001:db8::7, fdff::2"}, trusted), "2001:db8::7");
  EXPECT_EQ(forwardedClient("11.0.0.1", Lines{"203.0.113.7"}, trusted), "11.0.0.1");
}

TEST(AddressSet, AddressesAndRangesInEitherFamily) {
  const auto set = AddressSet::parse({"::ffff:127.0.0.1", "10.0.0.0/8", "192.168.1.128/25",
                                      "2001:db8::/32", "::1", "::ffff:198.51.0.0/112"});
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->contains("127.0.0.1"));
  EXPECT_TRUE(set->contains("::ffff:127.0.0.1"));  // mapped: its IPv4
  EXPECT_TRUE(set->contains("2001:DB8:ffff::1"));
  EXPECT_TRUE(set->contains("[::1]:443"));
  EXPECT_FALSE(set->contains("2001:db9::1"));
  EXPECT_FALSE(set->contains("::2"));
  EXPECT_FALSE(set->contains("not an address"));
  // A mapped range in IPv6 bits: ::ffff:198.51.0.0/112 is 198.51.0.0/16.
  EXPECT_TRUE(set->contains("198.51.100.1"));
  EXPECT_TRUE(set->contains("::ffff:198.51.255.1"));
  EXPECT_FALSE(set->contains("198.52.0.1"));
  const auto narrow = AddressSet::parse({"192.168.1.128/25", "10.0.0.0/8"}).value();
  EXPECT_TRUE(narrow.contains("192.168.1.128"));
  EXPECT_TRUE(narrow.contains("192.168.1.255"));
  EXPECT_FALSE(narrow.contains("192.168.1.127"));
  EXPECT_TRUE(narrow.contains("10.255.255.255"));
  EXPECT_FALSE(narrow.contains("11.0.0.0"));
  EXPECT_FALSE(narrow.contains("::ffff:11.0.0.0"));
  EXPECT_TRUE(AddressSet{}.empty());
  EXPECT_FALSE(AddressSet{}.contains("127.0.0.1"));
}

TEST(AddressSet, WhatIsNoAddressOrRangeIsRefusedByName) {
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1",
                          "10.0.0.0/8/8", "2001:db8::1/32", "::/129", "proxy.internal", "*", "",
                          "10.0.0.1:80", "[::1]", "10.0.0.0/ 8", "1.2.3",
                          // Wider than /8 trusts most of the Internet to name itself.
                          "0.0.0.0/0", "::/0", "0.0.0.0/7", "::/7",
                          // A mapped range counts IPv6 bits: /8 of it is no range at all.
                          "::ffff:10.0.0.0/8", "::ffff:10.0.0.0/95"}) {
    std::string named;
    EXPECT_FALSE(AddressSet::parse({"127.0.0.1", bad}, &named)) << bad;
    EXPECT_EQ(named, bad);
  }
  EXPECT_TRUE(AddressSet::parse({"10.0.0.0/8", "fd00::/8", "10.0.0.0/32", "2001:db8::1/128",
                                 "::ffff:10.0.0.0/104", "::ffff:10.1.2.3/128"}));
}

}  // namespace
}  // namespace gatehouse::core
