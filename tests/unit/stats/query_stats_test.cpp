#include "proxy/stats/query_stats.h"

#include <gtest/gtest.h>

#include <string>

#include "stats_test_util.h"

namespace sg::stats {
namespace {

using testing::config;
using testing::event;
using testing::kMs;

const Group* only_group(const QueryStats& s) {
    return s.groups().size() == 1 ? &s.groups().begin()->second : nullptr;
}

TEST(QueryStats, ExactlyNCallsAreCounted) {
    QueryStats s(config());
    for (int i = 0; i < 1000; ++i) s.record(event("SELECT pg_sleep(0.001)", 2 * kMs));
    const Group* g = only_group(s);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->figures.calls, 1000u);
    EXPECT_EQ(g->figures.rows, 1000u);
    EXPECT_EQ(g->figures.total_ns(), 2000u * kMs);
    EXPECT_EQ(g->figures.latency.percentile(0.99), 2 * kMs);
    EXPECT_EQ(g->figures.server_ns, 1500u * kMs);
    EXPECT_EQ(g->figures.proxy_ns, 500u * kMs);
    EXPECT_EQ(g->figures.pool_wait_ns, 200u * kMs);
    EXPECT_EQ(g->figures.bytes_in, 40'000u);
    EXPECT_EQ(g->figures.single_shard, 1000u);
    EXPECT_EQ(s.shapes().misses(), 1u);  // libpg_query ran once for the text
}

TEST(QueryStats, ConstantsMergeIntoOneFingerprint) {
    QueryStats s(config());
    s.record(event("SELECT * FROM items WHERE id = 1"));
    s.record(event("SELECT * FROM items WHERE id = 2"));
    s.record(event("select *  from items where id = $1"));
    const Group* g = only_group(s);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->figures.calls, 3u);
    EXPECT_EQ(g->shape->normalized, "SELECT * FROM items WHERE id = $1");
    EXPECT_EQ(g->shape->parameters, 1);
    EXPECT_EQ(g->shape->hex.size(), 16u);
}

TEST(QueryStats, GroupsAreSplitByUserAndDatabase) {
    QueryStats s(config());
    auto e = event("SELECT 1");
    s.record(e);
    e.user = "other";
    s.record(e);
    e.database = "reports";
    s.record(e);
    EXPECT_EQ(s.groups().size(), 3u);
    EXPECT_EQ(s.totals().size(), 3u);
}

TEST(QueryStats, ErrorsCountedBySqlstate) {
    QueryStats s(config());
    s.record(event("INSERT INTO t VALUES (1)", kMs, "23505"));
    s.record(event("INSERT INTO t VALUES (2)", kMs, "23505"));
    s.record(event("INSERT INTO t VALUES (3)", kMs, "23502"));
    s.record(event("INSERT INTO t VALUES (4)"));
    const Group* g = only_group(s);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->figures.calls, 4u);
    EXPECT_EQ(g->figures.errors, 3u);
    ASSERT_EQ(g->figures.errors_by_state.size(), 2u);
    EXPECT_EQ(g->figures.errors_by_state[0].state(), "23502");
    EXPECT_EQ(g->figures.errors_by_state[0].count, 1u);
    EXPECT_EQ(g->figures.errors_by_state[1].state(), "23505");
    EXPECT_EQ(g->figures.errors_by_state[1].count, 2u);
}

TEST(QueryStats, UnparseableTextIsGroupedByItsExactText) {
    QueryStats s(config());
    s.record(event("SELEC 1", kMs, "42601"));
    s.record(event("SELEC 1", kMs, "42601"));
    s.record(event("SELEC 2", kMs, "42601"));
    EXPECT_EQ(s.groups().size(), 2u);
    for (const auto& [k, g] : s.groups()) EXPECT_EQ(g.shape->hex.front(), 't');
}

TEST(QueryStats, FanOutAndLocalCalls) {
    QueryStats s(config());
    auto e = event("SELECT count(*) FROM items");
    e.shards = 4;
    s.record(e);
    s.record(e);
    e.shards = 1;
    s.record(e);
    e.shards = 0;
    s.record(e);
    const Group* g = only_group(s);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->figures.fanout, 2u);
    EXPECT_EQ(g->figures.single_shard, 1u);
    EXPECT_EQ(g->figures.local_calls, 1u);
    EXPECT_EQ(g->figures.max_shards, 4u);
    EXPECT_DOUBLE_EQ(g->figures.shards_per_call(), 9.0 / 4);
}

// Sums every group and other row: must equal the lifetime totals while nothing was reset.
Figures sum_of_rows(const QueryStats& s) {
    Figures f;
    for (const auto& [k, g] : s.groups()) f.merge(g.figures);
    for (const auto& [k, o] : s.other()) f.merge(o);
    return f;
}

TEST(QueryStats, EvictionFoldsIntoOtherAndTotalsAddUp) {
    QueryStats s(config(3));
    for (int i = 0; i < 5; ++i) s.record(event("SELECT * FROM a WHERE id = 1", 3 * kMs));
    for (int i = 0; i < 3; ++i)
        s.record(event("SELECT * FROM b WHERE id = 1", 2 * kMs, i == 0 ? "57014" : ""));
    s.record(event("SELECT * FROM c WHERE id = 1"));
    s.record(event("SELECT * FROM d WHERE id = 1"));  // evicts c, the least used
    s.record(event("SELECT * FROM e WHERE id = 1"));  // evicts d
    EXPECT_EQ(s.groups().size(), 3u);
    EXPECT_EQ(s.evictions(), 2u);
    ASSERT_EQ(s.other().size(), 1u);
    EXPECT_EQ(s.other().begin()->second.calls, 2u);
    std::vector<std::string> kept;
    for (const auto& [k, g] : s.groups()) kept.push_back(g.shape->normalized);
    std::sort(kept.begin(), kept.end());
    EXPECT_EQ(kept, (std::vector<std::string>{"SELECT * FROM a WHERE id = $1",
                                              "SELECT * FROM b WHERE id = $1",
                                              "SELECT * FROM e WHERE id = $1"}));

    const Figures sum = sum_of_rows(s);
    const Figures& total = s.totals().begin()->second.figures;
    EXPECT_EQ(sum.calls, 11u);
    EXPECT_EQ(sum.calls, total.calls);
    EXPECT_EQ(sum.errors, total.errors);
    EXPECT_EQ(sum.rows, total.rows);
    EXPECT_EQ(sum.total_ns(), total.total_ns());
    EXPECT_EQ(sum.server_ns, total.server_ns);
    EXPECT_EQ(sum.latency.percentile(0.5), total.latency.percentile(0.5));
}

// A table name per number, in letters: libpg_query's fingerprint ignores digits in names
// (partitions such as events_2024_01 count as one table).
std::string table_name(int i) {
    std::string name = "t_";
    do {
        name += static_cast<char>('a' + i % 26);
        i /= 26;
    } while (i);
    return name;
}

TEST(QueryStats, ManyDistinctStatementsStayBounded) {
    QueryStats s(config(50));
    for (int i = 0; i < 2000; ++i)
        s.record(event("SELECT * FROM " + table_name(i) + " WHERE id = 1"));
    EXPECT_LE(s.groups().size(), 50u);
    EXPECT_EQ(sum_of_rows(s).calls, 2000u);
    EXPECT_EQ(s.evictions() + s.groups().size(), 2000u);
}

TEST(QueryStats, ResetClearsStatementsButNotTotals) {
    QueryStats s(config());
    s.record(event("SELECT 1", 100 * kMs));
    EXPECT_EQ(s.slow().entries().size(), 1u);
    s.reset();
    EXPECT_TRUE(s.groups().empty());
    EXPECT_TRUE(s.slow().entries().empty());
    EXPECT_EQ(s.slow().total(), 1u);
    EXPECT_EQ(s.totals().begin()->second.figures.calls, 1u);
}

TEST(QueryStats, DisabledRecordsNothing) {
    auto c = config();
    c.enabled = false;
    QueryStats s(c);
    s.record(event("SELECT 1"));
    EXPECT_TRUE(s.groups().empty());
    c.enabled = true;
    s.reconfigure(c);
    s.record(event("SELECT 1"));
    EXPECT_EQ(s.groups().size(), 1u);
}

TEST(QueryStats, ShrinkingMaxFingerprintsEvictsAtOnce) {
    QueryStats s(config(10));
    for (int i = 0; i < 10; ++i) s.record(event("SELECT * FROM " + table_name(i)));
    s.reconfigure(config(4));
    EXPECT_LE(s.groups().size(), 4u);
    EXPECT_EQ(sum_of_rows(s).calls, 10u);
}

TEST(SlowLog, SlowStatementsAreKeptWithParametersOnlyWhenAllowed) {
    auto c = config();
    QueryStats s(c);
    const std::vector<std::string> params{"secret", "it's"};
    auto e = event("SELECT * FROM users WHERE email = $1 AND name = $2", 60 * kMs);
    e.params = &params;
    s.record(e);
    s.record(event("SELECT 1", 10 * kMs));  // fast: not slow
    ASSERT_EQ(s.slow().entries().size(), 1u);
    EXPECT_TRUE(s.slow().entries().front().params.empty());
    c.log_parameters = true;
    s.reconfigure(c);
    s.record(e);
    ASSERT_EQ(s.slow().entries().size(), 2u);
    EXPECT_EQ(s.slow().entries().front().params, params);
    EXPECT_EQ(format_params(params), "'secret', 'it''s'");
    c.slow_query_ms = 0;  // off
    s.reconfigure(c);
    s.record(e);
    EXPECT_EQ(s.slow().total(), 2u);
}

TEST(SlowLog, RingIsBounded) {
    SlowLog log(1, false, 3);
    auto shape = make_shape("SELECT 1");
    for (int i = 0; i < 10; ++i) log.record(event("SELECT 1", (i + 2) * kMs), shape);
    EXPECT_EQ(log.entries().size(), 3u);
    EXPECT_EQ(log.entries().front().latency_ns, 11 * kMs);  // newest first
    EXPECT_EQ(log.total(), 10u);
}

// libpg_query's fingerprint and normalization recurse: a text nested too deep is grouped by
// its text (no crash), a long flat one still gets libpg_query's fingerprint.
TEST(Shape, DeepTextsAreGroupedByTextLongFlatOnesByFingerprint) {
    std::string deep = "SELECT 1";
    for (int i = 0; i < 60000; ++i) deep += "+1";
    auto d = make_shape(deep);
    EXPECT_EQ(d->hex.front(), 't');
    std::string in = "SELECT * FROM t WHERE id IN (1";
    for (int i = 0; i < 20000; ++i) in += ", 12345";
    auto w = make_shape(in + ")");
    EXPECT_NE(w->hex.front(), 't');
    EXPECT_EQ(w->fingerprint, make_shape(in + ", 7)")->fingerprint);  // constants do not count
}

TEST(ParamHash, DistinguishesValuesAndBoundaries) {
    const std::vector<std::string> a{"ab", "c"}, b{"a", "bc"}, c{"ab", "c"};
    EXPECT_NE(param_hash(a), param_hash(b));
    EXPECT_EQ(param_hash(a), param_hash(c));
    EXPECT_NE(param_hash({}), 0u);
    EXPECT_NE(text_hash("x"), text_hash("y"));
}

TEST(ShapeCache, BoundedAndStillCorrectAfterEviction) {
    ShapeCache cache(2, 1 << 20);
    const uint64_t fp1 = cache.get("SELECT 1")->fingerprint;
    cache.get("SELECT * FROM a");
    cache.get("SELECT * FROM b");
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.get("SELECT 1")->fingerprint, fp1);
    EXPECT_EQ(cache.misses(), 4u);
    EXPECT_TRUE(cache.get("BEGIN")->control);
    EXPECT_TRUE(cache.get("  /* c */ commit")->control);
    EXPECT_FALSE(cache.get("SELECT 1")->control);
}

}  // namespace
}  // namespace sg::stats
