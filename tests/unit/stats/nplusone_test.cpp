#include "proxy/stats/nplusone.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/stats/query_stats.h"
#include "stats_test_util.h"

namespace sg::stats {
namespace {

using testing::kMs;

// A client's statements in sequence, with a clock: each statement takes 1 ms and starts
// `gap` after the previous one ended.
class Client {
public:
    Client(QueryStats& s, uint64_t id) : s_(s), id_(id) {}
    void run(const std::string& text, uint64_t params = 0, bool in_tx = false, uint32_t shards = 1,
             int64_t gap = kMs) {
        auto e = testing::event(text, kMs);
        e.client_id = id_;
        e.in_transaction = in_tx;
        e.shards = shards;
        e.param_hash = params;
        now_ += gap + kMs;
        e.end_ns = now_;
        s_.record(e);
    }
    void loop(int n, bool in_tx = false, uint32_t shards = 1, int64_t gap = kMs) {
        for (int i = 0; i < n; ++i)
            run("SELECT * FROM order_lines WHERE order_id = $1", 100 + i, in_tx, shards, gap);
    }

private:
    QueryStats& s_;
    uint64_t id_;
    int64_t now_ = 1'000'000'000;
};

const NPlusOneFinding* only_finding(const QueryStats& s) {
    return s.nplusone().findings().size() == 1 ? &s.nplusone().findings().begin()->second : nullptr;
}

TEST(NPlusOne, LoopAfterAListQueryInATransactionIsFlaggedOncePerBurst) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("BEGIN", 0, true);
    c.run("SELECT id FROM orders WHERE customer_id = $1", 7, true);
    c.loop(12, true);
    c.run("COMMIT", 0, false);
    const NPlusOneFinding* f = only_finding(s);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->bursts, 1u);
    EXPECT_EQ(f->repeats, 12u);
    EXPECT_EQ(f->max_burst, 12u);
    EXPECT_EQ(f->total_ns, 12u * kMs);
    EXPECT_FALSE(f->fanout());
    EXPECT_EQ(f->source->normalized, "SELECT id FROM orders WHERE customer_id = $1");
    EXPECT_EQ(f->repeated->normalized, "SELECT * FROM order_lines WHERE order_id = $1");
    EXPECT_EQ(s.nplusone().bursts_total(), 1u);
}

TEST(NPlusOne, SecondBurstCountsOnTheSamePair) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    for (int round = 0; round < 3; ++round) {
        c.run("SELECT id FROM orders WHERE customer_id = $1", 7 + round);
        c.loop(6);
    }
    const NPlusOneFinding* f = only_finding(s);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->bursts, 3u);
    EXPECT_EQ(f->repeats, 18u);
}

TEST(NPlusOne, AutocommitWithinTheWindowCounts) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders");
    c.loop(5, false, 1, 50 * kMs);  // 50 ms apart: still one loop
    EXPECT_NE(only_finding(s), nullptr);
}

TEST(NPlusOne, FanOutRepeatsAreWorse) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders");
    c.loop(5, false, 4);
    const NPlusOneFinding* f = only_finding(s);
    ASSERT_NE(f, nullptr);
    EXPECT_TRUE(f->fanout());
    EXPECT_EQ(f->fanout_bursts, 1u);
}

TEST(NPlusOne, BelowTheThresholdIsNotFlagged) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders");
    c.loop(4);
    EXPECT_TRUE(s.nplusone().findings().empty());
}

TEST(NPlusOne, SlowAutocommitCallsAreNotALoop) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders");
    c.loop(10, false, 1, 500 * kMs);  // half a second apart: separate requests
    EXPECT_TRUE(s.nplusone().findings().empty());
}

TEST(NPlusOne, SameParametersAreNotAnNPlusOne) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders");
    for (int i = 0; i < 10; ++i) c.run("SELECT * FROM order_lines WHERE order_id = $1", 42);
    EXPECT_TRUE(s.nplusone().findings().empty());
}

TEST(NPlusOne, StatementsWithoutParametersAreNotAnNPlusOne) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders");
    for (int i = 0; i < 10; ++i) c.run("SELECT now()");
    EXPECT_TRUE(s.nplusone().findings().empty());
}

TEST(NPlusOne, NeedsADifferentStatementBefore) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.loop(10);  // the first thing the client does: a batch, not a loop over a result
    EXPECT_TRUE(s.nplusone().findings().empty());
}

TEST(NPlusOne, InterleavedStatementsAreNotARun) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    for (int i = 0; i < 10; ++i) {
        c.run("SELECT * FROM order_lines WHERE order_id = $1", 100 + i);
        c.run("UPDATE orders SET seen = true WHERE id = $1", 100 + i);
    }
    EXPECT_TRUE(s.nplusone().findings().empty());
}

TEST(NPlusOne, ClientsAreTrackedSeparately) {
    QueryStats s(testing::config(100, 5));
    Client a(s, 1), b(s, 2);
    a.run("SELECT id FROM orders");
    b.run("SELECT id FROM orders");
    for (int i = 0; i < 3; ++i) {
        a.run("SELECT * FROM order_lines WHERE order_id = $1", 100 + i);
        b.run("SELECT * FROM order_lines WHERE order_id = $1", 200 + i);
    }
    EXPECT_TRUE(s.nplusone().findings().empty());  // 3 each: neither reaches 5
    s.forget_client(1);
    EXPECT_EQ(s.nplusone().clients(), 1u);
}

TEST(NPlusOne, UnknownParametersCountAsDifferent) {
    QueryStats s(testing::config(100, 3));
    Client c(s, 1);
    c.run("SELECT id FROM orders");
    for (int i = 0; i < 3; ++i) c.run("SELECT * FROM order_lines WHERE order_id = $1", 0);
    EXPECT_NE(only_finding(s), nullptr);
}

}  // namespace
}  // namespace sg::stats
