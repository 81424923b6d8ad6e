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

TEST(NPlusOne, CallsSecondsApartAreNotALoop) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders");
    c.loop(10, false, 1, 2000 * kMs);  // two seconds apart: separate requests
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

TEST(NPlusOne, ALoopTheSessionBeganWithIsStillFound) {
    // The list may have run on another connection of the application's pool.
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.loop(10);
    const NPlusOneFinding* f = only_finding(s);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->source, nullptr);
    EXPECT_EQ(f->repeats, 10u);
}

const NPlusOneFinding* finding_of(const QueryStats& s, const std::string& repeated) {
    for (const auto& [k, f] : s.nplusone().findings())
        if (f.repeated->normalized == repeated) return &f;
    return nullptr;
}

TEST(NPlusOne, OtherStatementsBetweenIterations) {
    // for each order: SELECT its lines; UPDATE it; (a log line without parameters)
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders WHERE customer_id = $1", 7);
    for (int i = 0; i < 10; ++i) {
        c.run("SELECT * FROM order_lines WHERE order_id = $1", 100 + i);
        c.run("UPDATE orders SET seen = now() WHERE id = $1", 100 + i);
        c.run("SELECT now()");
    }
    const NPlusOneFinding* lines = finding_of(s, "SELECT * FROM order_lines WHERE order_id = $1");
    const NPlusOneFinding* update = finding_of(s, "UPDATE orders SET seen = now() WHERE id = $1");
    ASSERT_NE(lines, nullptr);
    ASSERT_NE(update, nullptr);
    EXPECT_EQ(lines->repeats, 10u);
    EXPECT_EQ(update->repeats, 10u);
    EXPECT_EQ(lines->bursts, 1u);
    // Both are attributed to the list, not to each other.
    ASSERT_NE(lines->source, nullptr);
    ASSERT_NE(update->source, nullptr);
    EXPECT_EQ(lines->source->normalized, "SELECT id FROM orders WHERE customer_id = $1");
    EXPECT_EQ(update->source->normalized, "SELECT id FROM orders WHERE customer_id = $1");
    EXPECT_EQ(finding_of(s, "SELECT now()"), nullptr);  // no parameters: never an N+1
}

TEST(NPlusOne, ABodyLongerThanTheLimitIsNotOneLoop) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders");
    for (int i = 0; i < 10; ++i) {
        c.run("SELECT * FROM order_lines WHERE order_id = $1", 100 + i);
        for (uint64_t k = 0; k < NPlusOneDetector::kMaxBody; ++k)
            c.run("SELECT * FROM t" + std::to_string(k) + " WHERE x = $1", 5);
    }
    EXPECT_EQ(finding_of(s, "SELECT * FROM order_lines WHERE order_id = $1"), nullptr);
}

// The same 200-iteration loop after different prefixes: always one finding, same figures.
TEST(NPlusOne, TheSameLoopIsFoundWhateverPrecededIt) {
    const std::vector<std::vector<std::string>> prefixes{
        {},
        {"COPY items (id, name) FROM STDIN"},
        {"SELECT id FROM customers", "COPY items (id, name) FROM STDIN"},
        {"BEGIN", "SELECT 1", "COMMIT"},
        {"SELECT id FROM orders WHERE customer_id = $1"},  // the list twice
    };
    for (const auto& prefix : prefixes) {
        for (int64_t pause : {int64_t{0}, 300 * kMs, 5000 * kMs}) {
            QueryStats s(testing::config(100, 5));
            Client c(s, 1);
            for (const auto& p : prefix) c.run(p, 1);
            c.run("SELECT id FROM orders WHERE customer_id = $1", 7, false, 1, pause);
            c.loop(200);
            const NPlusOneFinding* f =
                finding_of(s, "SELECT * FROM order_lines WHERE order_id = $1");
            ASSERT_NE(f, nullptr) << "prefix of " << prefix.size() << ", pause " << pause;
            EXPECT_EQ(f->bursts, 1u);
            EXPECT_EQ(f->repeats, 200u);
            ASSERT_NE(f->source, nullptr);
            EXPECT_EQ(f->source->normalized, "SELECT id FROM orders WHERE customer_id = $1");
            EXPECT_EQ(s.nplusone().findings().size(), 1u);
        }
    }
}

TEST(NPlusOne, EarlierCallsOfTheStatementDoNotJoinTheLoop) {
    // Two lookups, then the list, then the loop: the loop is the list's.
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    for (int i = 0; i < 50; ++i) c.run("SELECT pg_sleep($1)", 2);
    c.run("SELECT * FROM order_lines WHERE order_id = $1", 1);
    c.run("SELECT * FROM order_lines WHERE order_id = $1", 2);
    c.run("SELECT id FROM orders WHERE customer_id = $1", 7);
    c.loop(10);
    const NPlusOneFinding* f = only_finding(s);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->repeats, 10u);
    ASSERT_NE(f->source, nullptr);
    EXPECT_EQ(f->source->normalized, "SELECT id FROM orders WHERE customer_id = $1");
}

TEST(NPlusOne, ACopyBeforeOrInsideIsNotTheSource) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders WHERE customer_id = $1", 7);
    c.run("COPY audit (id, what) FROM STDIN");
    for (int i = 0; i < 6; ++i) {
        c.run("SELECT * FROM order_lines WHERE order_id = $1", 100 + i);
        if (i == 2) c.run("COPY audit (id, what) FROM STDIN");
    }
    const NPlusOneFinding* f = only_finding(s);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->repeats, 6u);
    EXPECT_EQ(f->source->normalized, "SELECT id FROM orders WHERE customer_id = $1");
}

TEST(NPlusOne, ATransactionPerIterationIsOneLoop) {
    QueryStats s(testing::config(100, 5));
    Client c(s, 1);
    c.run("SELECT id FROM orders");
    for (int i = 0; i < 8; ++i) {
        c.run("BEGIN", 0, true);
        c.run("SELECT * FROM order_lines WHERE order_id = $1", 100 + i, true);
        c.run("COMMIT", 0, false);
    }
    const NPlusOneFinding* f = only_finding(s);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->repeats, 8u);
    EXPECT_EQ(f->bursts, 1u);
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
