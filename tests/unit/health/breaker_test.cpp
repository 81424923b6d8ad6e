#include "proxy/health/breaker.h"

#include <gtest/gtest.h>

using namespace sg::proxy::health;
using namespace std::chrono_literals;

namespace {
SysTime at(int ms) {
    return SysTime{} + 1000h + std::chrono::milliseconds(ms);
}
}  // namespace

TEST(Breaker, OpensAfterKConsecutiveFailures) {
    Breaker b(3);
    EXPECT_TRUE(b.admits());
    EXPECT_FALSE(b.on_failure(at(1), "timeout"));
    EXPECT_FALSE(b.on_failure(at(2), "timeout"));
    EXPECT_TRUE(b.admits());
    auto ch = b.on_failure(at(3), "no answer within 600 ms");
    ASSERT_TRUE(ch);
    EXPECT_EQ(ch->from, BreakerState::Closed);
    EXPECT_EQ(ch->to, BreakerState::Open);
    EXPECT_FALSE(b.admits());
    EXPECT_EQ(b.since(), at(3));
    EXPECT_EQ(b.open_reason(), "no answer within 600 ms");
    EXPECT_EQ(b.opens(), 1u);
}

TEST(Breaker, SuccessResetsTheCountWhileClosed) {
    Breaker b(2);
    EXPECT_FALSE(b.on_failure(at(1), "x"));
    EXPECT_FALSE(b.on_success(at(2)));  // no state change
    EXPECT_EQ(b.consecutive_failures(), 0);
    EXPECT_FALSE(b.on_failure(at(3), "x"));
    EXPECT_TRUE(b.admits());
    EXPECT_TRUE(b.on_failure(at(4), "x"));
    EXPECT_FALSE(b.admits());
}

TEST(Breaker, HalfOpenProbeClosesOnAnswer) {
    Breaker b(1);
    ASSERT_TRUE(b.on_failure(at(10), "refused"));
    auto p = b.on_probe(at(20));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->to, BreakerState::HalfOpen);
    EXPECT_FALSE(b.admits());  // only the probe goes to the shard
    auto c = b.on_success(at(30));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->from, BreakerState::HalfOpen);
    EXPECT_EQ(c->to, BreakerState::Closed);
    EXPECT_TRUE(b.admits());
    EXPECT_EQ(b.since(), at(30));
    EXPECT_TRUE(b.open_reason().empty());
    EXPECT_EQ(b.last_error(), "refused");  // kept for SHOW SHARDS
}

TEST(Breaker, FailedProbeReopensAndKeepsDownSince) {
    Breaker b(2);
    b.on_failure(at(1), "a");
    ASSERT_TRUE(b.on_failure(at(2), "b"));
    ASSERT_TRUE(b.on_probe(at(5)));
    auto r = b.on_failure(at(6), "c");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->from, BreakerState::HalfOpen);
    EXPECT_EQ(r->to, BreakerState::Open);
    EXPECT_EQ(b.since(), at(2));  // unavailable since the first opening
    EXPECT_EQ(b.open_reason(), "c");
    EXPECT_EQ(b.opens(), 1u);
    // Failures while open change nothing but the last error.
    EXPECT_FALSE(b.on_failure(at(7), "d"));
    EXPECT_EQ(b.last_error(), "d");
    EXPECT_EQ(b.state(), BreakerState::Open);
}

TEST(Breaker, ProbeOnlyFromOpen) {
    Breaker b(1);
    EXPECT_FALSE(b.on_probe(at(1)));
    EXPECT_EQ(b.state(), BreakerState::Closed);
    b.on_failure(at(2), "x");
    EXPECT_TRUE(b.on_probe(at(3)));
    EXPECT_FALSE(b.on_probe(at(4)));  // already half-open
}

TEST(Breaker, SuccessWhileOpenCloses) {
    // A check that answers closes the breaker even when no probe was announced.
    Breaker b(1);
    b.on_failure(at(1), "x");
    auto c = b.on_success(at(2));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->from, BreakerState::Open);
    EXPECT_TRUE(b.admits());
}

TEST(Breaker, ResetForgetsFailures) {
    Breaker b(1);
    b.on_failure(at(1), "x");
    b.reset(at(2));
    EXPECT_TRUE(b.admits());
    EXPECT_EQ(b.consecutive_failures(), 0);
    EXPECT_EQ(b.since(), at(2));
}

TEST(Breaker, FormatUtc) {
    SysTime t =
        std::chrono::system_clock::from_time_t(1765054985) + 123ms;  // 2025-12-06 21:03:05 UTC
    EXPECT_EQ(format_utc(t), "2025-12-06 21:03:05.123 UTC");
    EXPECT_EQ(format_utc(SysTime{}), "never");
}
