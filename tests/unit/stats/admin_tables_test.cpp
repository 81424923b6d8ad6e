#include "proxy/stats/admin_tables.h"

#include <gtest/gtest.h>

#include "stats_test_util.h"

namespace sg::stats {
namespace {

using testing::event;
using testing::kMs;

size_t col(const Table& t, std::string_view name) {
    for (size_t i = 0; i < t.columns.size(); ++i)
        if (t.columns[i] == name) return i;
    ADD_FAILURE() << "no column " << name;
    return 0;
}

TEST(ShowQueriesParse, AcceptsTheDocumentedForms) {
    auto r = parse_show_queries("");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->order, QueryOrder::Total);
    EXPECT_FALSE(r->limit);
    r = parse_show_queries("  order   by P99 limit 5 ;");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->order, QueryOrder::P99);
    EXPECT_EQ(r->limit, 5u);
    r = parse_show_queries("LIMIT 0");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->limit, 0u);
    for (auto [text, order] : {std::pair{"ORDER BY total", QueryOrder::Total},
                               {"ORDER BY mean", QueryOrder::Mean},
                               {"ORDER BY calls", QueryOrder::Calls},
                               {"ORDER BY errors", QueryOrder::Errors}}) {
        auto p = parse_show_queries(text);
        ASSERT_TRUE(p) << text;
        EXPECT_EQ(p->order, order);
    }
}

TEST(ShowQueriesParse, RejectsEverythingElseWithUsage) {
    for (const char* bad : {"ORDER total", "ORDER BY rows", "LIMIT", "LIMIT -1", "LIMIT 5x",
                            "LIMIT 5 ORDER BY calls", "WHERE x", "ORDER BY"}) {
        auto r = parse_show_queries(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().find("SHOW QUERIES [ORDER BY"), std::string::npos) << r.error();
    }
}

QueryStats workload() {
    QueryStats s(testing::config());
    for (int i = 0; i < 10; ++i)
        s.record(event("SELECT * FROM a WHERE id = 1", 1 * kMs));  // total 10
    for (int i = 0; i < 2; ++i)
        s.record(event("SELECT * FROM b WHERE id = 1", 20 * kMs));  // total 40, mean 20
    for (int i = 0; i < 3; ++i)
        s.record(event("INSERT INTO c VALUES (1)", 2 * kMs, "23505"));  // 3 errors
    return s;
}

TEST(ShowQueries, OrderAndLimit) {
    QueryStats s = workload();
    auto first_query = [&](QueryOrder o) {
        Table t = show_queries(s, {o, 1});
        EXPECT_EQ(t.rows.size(), 1u);
        return t.rows.at(0).at(col(t, "query"));
    };
    EXPECT_EQ(first_query(QueryOrder::Total), "SELECT * FROM b WHERE id = $1");
    EXPECT_EQ(first_query(QueryOrder::Mean), "SELECT * FROM b WHERE id = $1");
    EXPECT_EQ(first_query(QueryOrder::Calls), "SELECT * FROM a WHERE id = $1");
    EXPECT_EQ(first_query(QueryOrder::Errors), "INSERT INTO c VALUES ($1)");
    Table all = show_queries(s, {});
    ASSERT_EQ(all.rows.size(), 3u);
    const auto& b = all.rows[0];
    EXPECT_EQ(b[col(all, "calls")], "2");
    EXPECT_EQ(b[col(all, "total_ms")], "40.000");
    EXPECT_EQ(b[col(all, "mean_ms")], "20.000");
    EXPECT_EQ(b[col(all, "p99_ms")], "20.000");
    EXPECT_EQ(b[col(all, "shard_ms")], "30.000");
    EXPECT_EQ(b[col(all, "proxy_ms")], "10.000");
    const auto& c = all.rows[2];
    EXPECT_EQ(c[col(all, "errors")], "3");
    EXPECT_EQ(c[col(all, "errors_by_sqlstate")], "23505=3");
}

TEST(ShowQueries, OtherRowAppearsAfterEviction) {
    QueryStats s(testing::config(1));
    s.record(event("SELECT * FROM a"));
    s.record(event("SELECT * FROM b"));
    Table t = show_queries(s, {});
    ASSERT_EQ(t.rows.size(), 2u);
    bool other = false;
    for (const auto& r : t.rows) other = other || r[col(t, "fingerprint")] == "other";
    EXPECT_TRUE(other);
}

TEST(ShowNPlusOne, RowsCarryTheSuggestion) {
    QueryStats s(testing::config(100, 3));
    int64_t now = 1'000'000'000;
    auto run = [&](std::string_view text, uint64_t params, uint32_t shards) {
        auto e = event(text);
        e.param_hash = params;
        e.shards = shards;
        e.end_ns = (now += 2 * kMs);
        s.record(e);
    };
    run("SELECT id FROM orders", 1, 1);
    for (int i = 0; i < 4; ++i) run("SELECT * FROM lines WHERE order_id = $1", 10 + i, 4);
    Table t = show_nplusone(s);
    ASSERT_EQ(t.rows.size(), 1u);
    EXPECT_EQ(t.rows[0][col(t, "kind")], "fan-out N+1");
    EXPECT_EQ(t.rows[0][col(t, "repeats")], "4");
    EXPECT_EQ(t.rows[0][col(t, "source_query")], "SELECT id FROM orders");
    EXPECT_NE(t.rows[0][col(t, "suggestion")].find(
                  "fetch them in one statement with = ANY($1) or a join"),
              std::string::npos);
}

TEST(ShowSlowAndStats, Rows) {
    QueryStats s(testing::config());
    auto e = event("SELECT pg_sleep(0.1)", 100 * kMs);
    e.shards = 2;
    s.record(e);
    Table slow = show_slow(s);
    ASSERT_EQ(slow.rows.size(), 1u);
    EXPECT_EQ(slow.rows[0][col(slow, "duration_ms")], "100.000");
    EXPECT_EQ(slow.rows[0][col(slow, "shards")], "2");
    EXPECT_EQ(slow.rows[0][col(slow, "query")], "SELECT pg_sleep($1)");
    EXPECT_EQ(slow.rows[0][col(slow, "at")].size(), 24u);  // 2024-01-02T03:04:05.678Z

    const ShardTotals shards[] = {{"s0", 5, 1, 0, 10, 20, 0.5}};
    Table st = show_stats(s, shards);
    ASSERT_EQ(st.rows.size(), 2u);
    EXPECT_EQ(st.rows[0][col(st, "scope")], "user");
    EXPECT_EQ(st.rows[0][col(st, "queries")], "1");
    EXPECT_EQ(st.rows[0][col(st, "fanout_queries")], "1");
    EXPECT_EQ(st.rows[1][col(st, "shard")], "s0");
    EXPECT_EQ(st.rows[1][col(st, "shard_ms")], "500.000");

    Table reset = reset_queries(s);
    EXPECT_EQ(reset.command_tag, "RESET");
    EXPECT_TRUE(show_slow(s).rows.empty());
    EXPECT_TRUE(show_queries(s, {}).rows.empty());
}

}  // namespace
}  // namespace sg::stats
