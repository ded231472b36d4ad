#include "app/roster_watch.hpp"

#include <gtest/gtest.h>

namespace gatehouse::app {
namespace {

using store::postgres::Keeping;
using store::postgres::RosterEntry;

const RosterEntry kSelf{.keeping = Keeping::Own, .started = 1000, .pid = 50};
const RosterEntry kOlder{.keeping = Keeping::Own, .started = 900, .pid = 70};
const RosterEntry kNewer{.keeping = Keeping::Own, .started = 1100, .pid = 30};
const RosterEntry kSameSecondLowerPid{.keeping = Keeping::Own, .started = 1000, .pid = 40};
const RosterEntry kSameSecondHigherPid{.keeping = Keeping::Own, .started = 1000, .pid = 60};
const RosterEntry kRedisNode{.keeping = Keeping::Shared, .started = 500, .pid = 10};

constexpr Stand kAll[] = {Stand::Serving, Stand::Waiting, Stand::Aside};

TEST(NextStand, ALoneNodeEntersThenServesAndKeepsServing) {
  EXPECT_EQ(nextStand(Stand::Aside, kSelf, {}), Stand::Waiting);
  EXPECT_EQ(nextStand(Stand::Waiting, kSelf, {}), Stand::Serving);
  EXPECT_EQ(nextStand(Stand::Serving, kSelf, {}), Stand::Serving);
}

TEST(NextStand, ANodeSharingThroughRedisSendsItAsideWhateverItsStart) {
  for (const Stand now : kAll) {
    EXPECT_EQ(nextStand(now, kSelf, {kRedisNode}), Stand::Aside);
    EXPECT_EQ(nextStand(now, kSelf, {kOlder, kRedisNode}), Stand::Aside);
  }
}

TEST(NextStand, ALaterNodeWithoutRedisSendsItAsideAndItStaysThere) {
  // A rolling update's new node: the old one steps aside, and does not come back beside it.
  for (const Stand now : kAll) EXPECT_EQ(nextStand(now, kSelf, {kNewer}), Stand::Aside);
  EXPECT_EQ(nextStand(Stand::Aside, kSelf, {kOlder}), Stand::Aside);
}

TEST(NextStand, ALaterNodeWaitsForTheEarlierToStepAside) {
  EXPECT_EQ(nextStand(Stand::Waiting, kSelf, {kOlder}), Stand::Waiting);
  EXPECT_EQ(nextStand(Stand::Waiting, kSelf, {}), Stand::Serving);
  // One that serves already stays while an earlier one, back in the roster, sees it and leaves.
  EXPECT_EQ(nextStand(Stand::Serving, kSelf, {kOlder}), Stand::Serving);
}

TEST(NextStand, NodesStartedInOneSecondAreOrderedByTheirSessionsPid) {
  EXPECT_EQ(nextStand(Stand::Serving, kSelf, {kSameSecondHigherPid}), Stand::Aside);
  EXPECT_EQ(nextStand(Stand::Waiting, kSelf, {kSameSecondLowerPid}), Stand::Waiting);
  // Seen from the other side, the same pair gives the opposite answer: exactly one serves.
  EXPECT_EQ(nextStand(Stand::Waiting, kSameSecondHigherPid, {kSelf}), Stand::Waiting);
  EXPECT_EQ(nextStand(Stand::Serving, kSameSecondLowerPid, {kSelf}), Stand::Aside);
}

TEST(NextStand, NeverTwoServeAfterEachHasLookedOnce) {
  // Every pair of stands two nodes without Redis can be in, both holding a place: after each has
  // looked at the other, at most one of them serves.
  const RosterEntry a = kOlder;
  const RosterEntry b = kSelf;
  for (const Stand sa : {Stand::Serving, Stand::Waiting}) {
    for (const Stand sb : {Stand::Serving, Stand::Waiting}) {
      const Stand na = nextStand(sa, a, {b});
      const Stand nb = nextStand(sb, b, {a});
      EXPECT_FALSE(na == Stand::Serving && nb == Stand::Serving)
          << static_cast<int>(sa) << "," << static_cast<int>(sb);
    }
  }
}

}  // namespace
}  // namespace gatehouse::app
