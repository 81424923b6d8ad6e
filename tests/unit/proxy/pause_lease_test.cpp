// The lease of a pause (proxy/pause_lease.h), with a made-up clock.
#include "proxy/pause_lease.h"

#include <gtest/gtest.h>

namespace sg::proxy {
namespace {

using std::chrono::milliseconds;
using TP = PauseLease::Clock::time_point;

TP at(int ms) {
    return TP(milliseconds(ms));
}

TEST(PauseLease, LapsesAtItsExpiryExactlyOnce) {
    PauseLease l;
    l.begin(1, "console", milliseconds(100), at(0));
    EXPECT_TRUE(l.active());
    EXPECT_EQ(l.deadline(), at(100));
    EXPECT_FALSE(l.lapse_if_due(at(99)));
    auto gone = l.lapse_if_due(at(100));
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->id, 1u);
    EXPECT_EQ(gone->owner, "console");
    EXPECT_FALSE(l.active());
    EXPECT_FALSE(l.lapse_if_due(at(500)));  // reported once
    EXPECT_EQ(l.check(1), LeaseCheck::Lapsed);
    ASSERT_TRUE(l.last_lapsed());
    EXPECT_EQ(l.last_lapsed()->id, 1u);
}

TEST(PauseLease, RenewalExtendsFromNow) {
    PauseLease l;
    l.begin(3, "rebalance", milliseconds(100), at(0));
    EXPECT_EQ(l.renew(3, at(80)), LeaseCheck::Held);
    EXPECT_EQ(l.deadline(), at(180));
    EXPECT_FALSE(l.lapse_if_due(at(150)));
    EXPECT_EQ(l.held()->renewals, 1u);
    EXPECT_TRUE(l.lapse_if_due(at(180)));
}

TEST(PauseLease, ALateRenewalIsRefusedEvenBeforeTheTimerFired) {
    PauseLease l;
    l.begin(4, "rebalance", milliseconds(100), at(0));
    // No timer lifted it yet; the renewal comes after the expiry: lapsed, and lifted now.
    EXPECT_EQ(l.renew(4, at(101)), LeaseCheck::Lapsed);
    EXPECT_FALSE(l.active());
    EXPECT_EQ(l.end(4), LeaseCheck::Lapsed);
}

TEST(PauseLease, AnIdNeverRenewsOrEndsANewerPause) {
    PauseLease l;
    l.begin(5, "first", milliseconds(100), at(0));
    l.begin(6, "second", milliseconds(100), at(10));  // replaces 5
    EXPECT_EQ(l.check(5), LeaseCheck::Ended);
    EXPECT_EQ(l.renew(5, at(20)), LeaseCheck::Ended);
    EXPECT_EQ(l.end(5), LeaseCheck::Ended);
    EXPECT_TRUE(l.active());
    EXPECT_EQ(l.held()->id, 6u);
    EXPECT_EQ(l.end(99), LeaseCheck::Unknown);
    EXPECT_TRUE(l.active());
    EXPECT_EQ(l.end(6), LeaseCheck::Held);
    EXPECT_FALSE(l.active());
    EXPECT_EQ(l.check(6), LeaseCheck::Ended);
}

TEST(PauseLease, ResumeWithoutIdEndsWhateverIsInForce) {
    PauseLease l;
    EXPECT_EQ(l.end(0), LeaseCheck::Ended);  // nothing paused: nothing to do
    l.begin(7, "console", milliseconds(100), at(0));
    EXPECT_EQ(l.end(0), LeaseCheck::Held);
    EXPECT_FALSE(l.active());
    EXPECT_FALSE(l.lapse_if_due(at(1000)));  // an ended pause never lapses
}

TEST(PauseLease, HistoryIsBoundedButRecentIdsAreKnown) {
    PauseLease l;
    for (uint64_t id = 1; id <= 200; ++id) {
        l.begin(id, "x", milliseconds(10), at(int(id) * 100));
        if (id % 2) l.lapse_if_due(at(int(id) * 100 + 10));
    }
    EXPECT_EQ(l.check(199), LeaseCheck::Lapsed);
    EXPECT_EQ(l.check(198), LeaseCheck::Ended);
    EXPECT_EQ(l.check(200), LeaseCheck::Held);
    EXPECT_EQ(l.check(1), LeaseCheck::Unknown);  // forgotten long ago
}

}  // namespace
}  // namespace sg::proxy
