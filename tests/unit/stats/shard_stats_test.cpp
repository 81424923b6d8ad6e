// Per-shard legs, stragglers, refusals and pause-held time in the statistics (issue 20).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "proxy/stats/admin_shards.h"
#include "proxy/stats/admin_tables.h"
#include "proxy/stats/query_stats.h"
#include "proxy/stats/refusals.h"
#include "proxy/stats/report.h"
#include "stats_test_util.h"

namespace sg::stats {
namespace {

using testing::config;
using testing::event;
using testing::kMs;

ShardLeg leg(int shard, int64_t ns, uint64_t rows = 1, bool error = false) {
    return ShardLeg{shard, ns, kMs / 100, rows, 30, 200, error};
}

const std::vector<std::string> kNames{"s0", "s1", "s2"};

// The rows of `t` whose `col` is `value`.
std::vector<std::vector<std::string>> rows_where(const Table& t, const std::string& col,
                                                 const std::string& value) {
    const size_t i = size_t(std::find(t.columns.begin(), t.columns.end(), col) - t.columns.begin());
    std::vector<std::vector<std::string>> out;
    for (const auto& r : t.rows)
        if (i < r.size() && r[i] == value) out.push_back(r);
    return out;
}

std::string cell(const Table& t, const std::vector<std::string>& row, const std::string& col) {
    const size_t i = size_t(std::find(t.columns.begin(), t.columns.end(), col) - t.columns.begin());
    return i < row.size() ? row[i] : "<no column " + col + ">";
}

TEST(ShardFigures, LegsCountOnTheirShard) {
    PerShard per;
    const std::vector<ShardLeg> legs{leg(0, 2 * kMs, 3), leg(2, 5 * kMs, 4, true)};
    add_legs(per, legs);
    ASSERT_EQ(per.size(), 3u);
    EXPECT_EQ(per[0].calls, 1u);
    EXPECT_EQ(per[0].rows, 3u);
    EXPECT_EQ(per[1].calls, 0u);
    EXPECT_EQ(per[2].errors, 1u);
    EXPECT_EQ(per[2].total_ns(), uint64_t(5 * kMs));
    EXPECT_EQ(per[2].bytes_sent, 30u);
    EXPECT_EQ(per[2].bytes_received, 200u);
}

TEST(Straggler, SlowestShardAgainstTheMedianShard) {
    PerShard per;
    for (int i = 0; i < 20; ++i) {
        const std::vector<ShardLeg> legs{leg(0, 1 * kMs), leg(1, 2 * kMs), leg(2, 10 * kMs)};
        add_legs(per, legs);
    }
    auto s = find_straggler(per);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->shard, 2);
    EXPECT_NEAR(double(s->median_shard_ns), 2.0 * kMs, 2.0 * kMs / 128);
    EXPECT_NEAR(s->ratio(), 5.0, 0.1);
    EXPECT_TRUE(notable(*s));
}

TEST(Straggler, EquallyFastShardsHaveNoNotableStraggler) {
    PerShard per;
    const std::vector<ShardLeg> legs{leg(0, 1 * kMs), leg(1, 1 * kMs + kMs / 20)};
    add_legs(per, legs);
    auto s = find_straggler(per);
    ASSERT_TRUE(s);
    EXPECT_FALSE(notable(*s));
    PerShard one;
    add_legs(one, std::vector<ShardLeg>{leg(1, kMs)});
    EXPECT_FALSE(find_straggler(one));  // one shard: nothing to compare with
}

TEST(QueryStats, FanOutLegsCountPerStatementAndPerShard) {
    QueryStats s(config());
    for (int i = 0; i < 10; ++i) {
        auto e = event("SELECT * FROM items WHERE name = 'x'", 12 * kMs);
        const std::vector<ShardLeg> legs{leg(0, 1 * kMs, 2), leg(1, 11 * kMs, 8)};
        e.shards = 2;
        e.legs = legs;
        s.record(e);
        auto single = event("SELECT * FROM items WHERE id = 1", kMs);
        const ShardLeg one = leg(0, kMs / 2);
        single.legs = {&one, 1};
        s.record(single);
    }
    ASSERT_EQ(s.shard_figures().size(), 2u);
    EXPECT_EQ(s.shard_figures()[0].calls, 20u);  // fan-out and single-shard legs
    EXPECT_EQ(s.shard_figures()[1].calls, 10u);
    EXPECT_EQ(s.shard_figures()[1].rows, 80u);

    const Table t = show_shard_stats(s, kNames);
    const auto all = rows_where(t, "fingerprint", "all");
    ASSERT_EQ(all.size(), 3u);  // every configured shard, even one without legs
    EXPECT_EQ(cell(t, all[0], "calls"), "20");
    EXPECT_EQ(cell(t, all[1], "calls"), "10");
    EXPECT_EQ(cell(t, all[2], "calls"), "0");
    const auto stragglers = rows_where(t, "straggler", "yes");
    ASSERT_EQ(stragglers.size(), 1u);
    EXPECT_EQ(cell(t, stragglers[0], "shard"), "s1");
    EXPECT_EQ(cell(t, stragglers[0], "query"), "SELECT * FROM items WHERE name = $1");
    EXPECT_NEAR(std::stod(cell(t, stragglers[0], "over_median_ms")), 10.0, 0.2);

    s.reset();
    EXPECT_TRUE(s.shard_figures().empty());
}

TEST(Refusals, ConstructsAreNamedFromTheRoutersMessages) {
    EXPECT_EQ(classify_refusal(
                  "join of sharded tables \"a\" and \"b\" is not on their shard keys (a.id = b.id)")
                  .construct,
              "join not on the shard keys");
    EXPECT_EQ(
        classify_refusal(
            "statement on sharded table \"items\" needs 2 shards and uses window function, which "
            "cannot be answered by concatenating the shards' rows")
            .construct,
        "window function across shards");
    EXPECT_EQ(
        classify_refusal("UPDATE of shard key \"id\" on sharded table \"items\" is refused: x")
            .construct,
        "UPDATE of the shard key");
    EXPECT_EQ(classify_refusal(
                  "this statement touches 2 shards and a transaction is open; a transaction cannot "
                  "span shards in this version")
                  .construct,
              "transaction across shards");
    // Raised by the combining step after the shards answered: not a binary COPY.
    EXPECT_EQ(classify_refusal(
                  "statement on sharded table \"t\" uses ORDER BY, which the proxy cannot combine "
                  "across shards here: column \"k\" comes in a binary format the proxy cannot read")
                  .construct,
              "combining binary results across shards");
    EXPECT_EQ(classify_refusal(
                  "COPY FROM STDIN in binary format into sharded table \"t\" is not supported")
                  .construct,
              "COPY in binary format into a sharded table");
    const auto unknown = classify_refusal("frobnicating a widget is not supported: never");
    EXPECT_EQ(unknown.construct, "frobnicating a widget is not supported");
    EXPECT_FALSE(unknown.way_around.empty());
}

TEST(Refusals, CountedPerShapeAndConstructAndAsFailedStatements) {
    QueryStats s(config());
    const std::string msg = "join of sharded tables \"a\" and \"b\" is not on their shard keys";
    for (int i = 0; i < 3; ++i) {
        const std::string text =
            "SELECT * FROM a JOIN b ON a.x = b.y WHERE a.id = " + std::to_string(i);
        auto e = event(text, kMs / 10, "0A000");
        e.shards = 0;
        s.record_refusal(e, msg);
    }
    ASSERT_EQ(s.refusals().rows().size(), 1u);
    EXPECT_EQ(s.refusals().rows()[0].count, 3u);
    EXPECT_EQ(s.refusals().by_construct_total().at("join not on the shard keys"), 3u);
    const Table t = show_refusals(s);
    ASSERT_EQ(t.rows.size(), 1u);
    EXPECT_EQ(cell(t, t.rows[0], "count"), "3");
    EXPECT_EQ(cell(t, t.rows[0], "query"), "SELECT * FROM a JOIN b ON a.x = b.y WHERE a.id = $1");
    // Also a statement that failed with 0A000, as SHOW QUERIES shows it.
    ASSERT_EQ(s.groups().size(), 1u);
    EXPECT_EQ(s.groups().begin()->second.figures.errors, 3u);
    // ...with the refusal's count and construct on that row.
    const Table q = show_queries(s, QueriesRequest{});
    ASSERT_EQ(q.rows.size(), 1u);
    EXPECT_EQ(cell(q, q.rows[0], "refused"), "3");
    EXPECT_EQ(cell(q, q.rows[0], "refused_construct"), "join not on the shard keys");
    s.reset();
    EXPECT_TRUE(s.refusals().rows().empty());
    EXPECT_EQ(s.refusals().by_construct_total().at("join not on the shard keys"),
              3u);  // a counter: kept
}

TEST(Refusals, BoundedByLeastRecentlySeen) {
    RefusalLog log(2);
    ShapeCache shapes(16, 1 << 20);
    log.record(shapes.get("SELECT 1"), "u", "d", "x y");
    log.record(shapes.get("SELECT a FROM t"), "u", "d", "x y");
    log.record(shapes.get("SELECT 1"), "u", "d", "x y");
    log.record(shapes.get("SELECT b FROM t"), "u", "d", "x y");  // evicts "SELECT a FROM t"
    ASSERT_EQ(log.rows().size(), 2u);
    for (const auto& r : log.rows()) EXPECT_NE(r.shape->normalized, "SELECT a FROM t");
}

TEST(HeldTime, IsItsOwnComponentAndLeftOutOfTheRanking) {
    QueryStats s(config());
    auto held = event("SELECT pg_sleep(1)", 1000 * kMs);  // 990 ms of it held by a pause
    held.held_ns = 990 * kMs;
    held.server_ns = 5 * kMs;
    s.record(held);
    ASSERT_EQ(s.groups().size(), 1u);
    const Group& g = s.groups().begin()->second;
    EXPECT_EQ(g.figures.held_ns, uint64_t(990 * kMs));
    EXPECT_EQ(g.figures.proxy_ns, uint64_t(5 * kMs));  // 1000 - 5 in the shard - 990 held
}

TEST(Report, ShardsAndRefusalsSections) {
    QueryStats s(config());
    for (int i = 0; i < 10; ++i) {
        auto e = event("SELECT * FROM items WHERE name = 'x'", 12 * kMs);
        const std::vector<ShardLeg> legs{leg(0, 1 * kMs, 5), leg(1, 11 * kMs, 5)};
        e.shards = 2;
        e.legs = legs;
        s.record(e);
    }
    auto r = event("SELECT * FROM a JOIN b ON a.x = b.y", kMs / 10, "0A000");
    s.record_refusal(r, "join of sharded tables \"a\" and \"b\" is not on their shard keys");
    report::Inputs in;
    in.queries = show_queries(s, {});
    in.shard_stats = show_shard_stats(s, kNames);
    in.refusals = show_refusals(s);
    const report::Report rep = report::build(in);
    ASSERT_EQ(rep.stragglers.size(), 1u);
    EXPECT_EQ(rep.stragglers[0].shard, "s1");
    EXPECT_NEAR(rep.stragglers[0].rows_share, 50.0, 0.01);
    ASSERT_EQ(rep.refusals.size(), 1u);
    EXPECT_EQ(rep.refusals[0].construct, "join not on the shard keys");
    const std::string text = report::render_text(rep);
    EXPECT_NE(text.find("Shards (every statement leg"), std::string::npos);
    EXPECT_NE(text.find("shard s1: +"), std::string::npos);
    EXPECT_NE(text.find("join not on the shard keys (1 refused)"), std::string::npos);
    EXPECT_NE(text.find("p50_ms"), std::string::npos);
    const std::string html = report::render_html(rep);
    EXPECT_NE(html.find("id=\"shard-chart\""), std::string::npos);
    EXPECT_NE(html.find("straggler\">s1<"), std::string::npos);
    bool slow_shard_finding = false;
    for (const auto& f : rep.findings)
        slow_shard_finding = slow_shard_finding || f.kind == "slow shard";
    EXPECT_TRUE(slow_shard_finding);
}

TEST(Report, PauseHeldTimeDoesNotRankUnlessAsked) {
    QueryStats s(config());
    auto held = event("SELECT pg_sleep(1)", 1000 * kMs);
    held.held_ns = 990 * kMs;
    s.record(held);
    for (int i = 0; i < 30; ++i) s.record(event("SELECT * FROM items WHERE id = 1", 2 * kMs));
    report::Inputs in;
    in.queries = show_queries(s, {});
    const auto normal = report::build(in);
    ASSERT_GE(normal.top.size(), 2u);
    EXPECT_EQ(normal.top[0].query, "SELECT * FROM items WHERE id = $1");
    in.include_held = true;
    const auto with_held = report::build(in);
    EXPECT_EQ(with_held.top[0].query, "SELECT pg_sleep($1)");
}

}  // namespace
}  // namespace sg::stats
