// The proxy's pauses (proxy/pause_control.h) and the console's bucket syntax (admin_pause.h).
#include "proxy/pause_control.h"

#include <gtest/gtest.h>

#include "proxy/admin_pause.h"

namespace sg::proxy {
namespace {

using std::chrono::milliseconds;

TEST(PauseControl, BucketPauseMarksOnlyItsBucketsAndEndsById) {
    net::asio::io_context io;
    PauseControl pc(io.get_executor());
    const uint64_t id = pc.pause_buckets({{2, 4}, {9, 9}}, 16, "rebalance r1", milliseconds(1000));
    EXPECT_TRUE(pc.any_bucket_paused());
    for (uint32_t b = 0; b < 16; ++b)
        EXPECT_EQ(pc.bucket_paused(b), (b >= 2 && b <= 4) || b == 9) << b;
    EXPECT_EQ(pc.describe(PauseKind::Buckets),
              "pause " + std::to_string(id) + " (PAUSE BUCKETS 2-4,9 by rebalance r1)");
    EXPECT_EQ(pc.resume_buckets(id + 100), LeaseCheck::Unknown);
    EXPECT_TRUE(pc.any_bucket_paused());
    EXPECT_EQ(pc.resume_buckets(id), LeaseCheck::Held);
    EXPECT_FALSE(pc.any_bucket_paused());
    EXPECT_FALSE(pc.bucket_paused(3));
    EXPECT_EQ(pc.renew_buckets(id), LeaseCheck::Ended);
}

TEST(PauseControl, IdsAreUniqueAcrossKinds) {
    net::asio::io_context io;
    PauseControl pc(io.get_executor());
    const uint64_t a = pc.pause_proxy("console", milliseconds(1000));
    const uint64_t b = pc.pause_buckets({{0, 0}}, 4, "console", milliseconds(1000));
    EXPECT_NE(a, b);
    EXPECT_EQ(pc.views().size(), 2u);
    EXPECT_EQ(pc.resume_proxy(b), LeaseCheck::Unknown);  // a bucket pause's id does not end PAUSE
    EXPECT_TRUE(pc.proxy_paused());
}

TEST(PauseControl, StuckMeansPastItsExpiryOrLongerThanTheBound) {
    net::asio::io_context io;
    PauseControl pc(io.get_executor());
    const auto start = net::Clock::now();
    pc.pause_buckets({{1, 1}}, 4, "rebalance r2", milliseconds(200));
    EXPECT_EQ(stuck_pauses(pc, milliseconds(1000), start), "");
    // Past its expiry and not lifted (the timer did not run): stuck.
    const std::string late = stuck_pauses(pc, milliseconds(1000), start + milliseconds(300));
    EXPECT_NE(late.find("PAUSE BUCKETS 1 by rebalance r2) stuck"), std::string::npos) << late;
    // Renewed within its lease, but in force longer than max_pause_ms in all: stuck too.
    EXPECT_NE(stuck_pauses(pc, milliseconds(100), start + milliseconds(150)), "");
}

TEST(PauseControl, TheTimerLiftsALapsedPauseAndCountsIt) {
    net::asio::io_context io;
    PauseControl pc(io.get_executor());
    pc.pause_proxy("console", milliseconds(30));
    const auto start = net::Clock::now();
    io.run_for(std::chrono::milliseconds(500));  // the ticker ends once nothing is paused
    EXPECT_FALSE(pc.proxy_paused());
    EXPECT_EQ(pc.expired_total(), 1u);
    EXPECT_GE(net::Clock::now() - start, milliseconds(25));
    ASSERT_TRUE(pc.proxy_lease().last_lapsed());
    EXPECT_EQ(pc.proxy_lease().last_lapsed()->owner, "console");
}

// A lapsed switch pause whose callback says "in doubt" keeps its buckets held (the old owner
// must not serve a switch that may be decided) until release_in_doubt() or a RESUME.
TEST(PauseControl, ALapseInDoubtKeepsTheBucketsHeldUntilReleased) {
    net::asio::io_context io;
    PauseControl pc(io.get_executor());
    int lapses = 0;
    pc.set_on_buckets_lapsed([&] {
        ++lapses;
        return true;
    });
    const uint64_t id = pc.pause_buckets({{2, 3}}, 8, "rebalance r3", milliseconds(20));
    io.run_for(milliseconds(200));
    EXPECT_EQ(lapses, 1);
    EXPECT_EQ(pc.expired_total(), 1u);
    EXPECT_FALSE(pc.bucket_lease().active());
    EXPECT_TRUE(pc.buckets_in_doubt());
    EXPECT_TRUE(pc.bucket_paused(2));
    EXPECT_FALSE(pc.bucket_paused(4));
    EXPECT_NE(
        pc.describe(PauseKind::Buckets).find("lapsed while a rebalance switch may be in doubt"),
        std::string::npos)
        << pc.describe(PauseKind::Buckets);
    ASSERT_EQ(pc.views().size(), 1u);  // still shown (and stuck for /readyz)
    EXPECT_NE(stuck_pauses(pc, milliseconds(1000), net::Clock::now()), "");
    EXPECT_EQ(pc.renew_buckets(id), LeaseCheck::Lapsed);  // a renewal cannot revive it
    pc.release_in_doubt();
    EXPECT_FALSE(pc.buckets_in_doubt());
    EXPECT_FALSE(pc.any_bucket_paused());
    EXPECT_TRUE(pc.views().empty());
}

TEST(PauseControl, ALapseNotInDoubtReleasesAtOnceAndResumeEndsADoubt) {
    net::asio::io_context io;
    PauseControl pc(io.get_executor());
    bool in_doubt = false;
    pc.set_on_buckets_lapsed([&] { return in_doubt; });
    pc.pause_buckets({{1, 1}}, 4, "console", milliseconds(20));
    io.run_for(milliseconds(200));
    EXPECT_FALSE(pc.any_bucket_paused());
    EXPECT_FALSE(pc.buckets_in_doubt());
    in_doubt = true;
    const uint64_t id = pc.pause_buckets({{1, 1}}, 4, "rebalance r4", milliseconds(20));
    io.restart();
    io.run_for(milliseconds(200));
    EXPECT_TRUE(pc.buckets_in_doubt());
    // The rebalancer that settles the switch resumes it (by its id, told it lapsed).
    EXPECT_EQ(pc.resume_buckets(id), LeaseCheck::Lapsed);
    EXPECT_FALSE(pc.buckets_in_doubt());
    EXPECT_FALSE(pc.bucket_paused(1));
}

TEST(AdminPause, BucketRuns) {
    std::vector<std::pair<uint32_t, uint32_t>> r;
    std::string why;
    EXPECT_TRUE(parse_bucket_runs("1-3,7", 8, r, why));
    EXPECT_EQ(r, (std::vector<std::pair<uint32_t, uint32_t>>{{1, 3}, {7, 7}}));
    r.clear();
    EXPECT_FALSE(parse_bucket_runs("1-8", 8, r, why));
    EXPECT_NE(why.find("outside 0-7"), std::string::npos);
    r.clear();
    EXPECT_FALSE(parse_bucket_runs("", 8, r, why));
    r.clear();
    EXPECT_FALSE(parse_bucket_runs("3-1", 8, r, why));
}

}  // namespace
}  // namespace sg::proxy
