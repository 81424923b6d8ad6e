// Fan-out aggregates the proxy combines (count/sum/min/max with nothing else): recognised by
// the analyzer, still refused by the router unless the caller says it merges.
#include <gtest/gtest.h>

#include "router/router.h"
#include "tests/unit/router/router_fixture.h"

namespace sg::router {
namespace {

using M = Analysis::Merge;

TEST(AggregateMerge, PlainAggregatesAreMergeable) {
    struct Case {
        const char* sql;
        std::vector<M> merge;
    } cases[] = {
        {"SELECT count(*) FROM users", {M::Sum}},
        {"SELECT count(name), sum(id) FROM users WHERE name <> 'x'", {M::Sum, M::Sum}},
        {"SELECT min(id) AS lo, max(id) AS hi FROM users", {M::Min, M::Max}},
        {"SELECT pg_catalog.count(*) FROM users", {M::Sum}},
        {"SELECT name, count(*) FROM users GROUP BY name", {M::Group, M::Sum}},
        {"SELECT max(id), u.name FROM users u WHERE id > 3 GROUP BY u.name", {M::Max, M::Group}},
        {"SELECT name FROM users GROUP BY name", {M::Group}},
    };
    for (const auto& c : cases) {
        Analysis a = analyze(c.sql, testing::test_catalog());
        EXPECT_EQ(a.merge_aggregates, c.merge) << c.sql;
        EXPECT_FALSE(a.fanout_blocker.empty()) << c.sql;
    }
}

TEST(AggregateMerge, EverythingElseIsNot) {
    const char* cases[] = {
        "SELECT avg(id) FROM users",
        "SELECT count(DISTINCT name) FROM users",
        "SELECT count(*) FILTER (WHERE id > 1) FROM users",
        "SELECT count(*) + 1 FROM users",
        "SELECT count(*), name FROM users",
        "SELECT count(*) FROM users GROUP BY name",
        "SELECT name, count(*) FROM users GROUP BY name, id",
        "SELECT lower(name), count(*) FROM users GROUP BY lower(name)",
        "SELECT name, count(*) FROM users GROUP BY 1",
        "SELECT name, count(*) FROM users GROUP BY name ORDER BY name",
        "SELECT count(*) FROM users HAVING count(*) > 2",
        "SELECT count(*) FROM users LIMIT 1",
        "SELECT count(*) FROM users ORDER BY 1",
        "SELECT sum(count(*)) OVER () FROM users",
        "SELECT string_agg(name, ',') FROM users",
        "SELECT myschema.sum(id) FROM users",
        "SELECT id FROM users",
    };
    for (const char* sql : cases) {
        Analysis a = analyze(sql, testing::test_catalog());
        EXPECT_TRUE(a.merge_aggregates.empty()) << sql;
    }
}

TEST(AggregateMerge, OnlyAMergingCallerMayFanThemOut) {
    Analysis a = analyze("SELECT count(*) FROM users", testing::test_catalog());
    Route refused = route(a, {}, testing::test_map(), RouterContext{});
    EXPECT_EQ(refused.kind, Route::Kind::Error);
    EXPECT_EQ(refused.error.sqlstate, "0A000");
    RouterContext merging;
    merging.merge_aggregates = true;
    Route fanned = route(a, {}, testing::test_map(), merging);
    EXPECT_EQ(fanned.kind, Route::Kind::All);
    EXPECT_EQ(fanned.shards.size(), 4u);
    // Inside a multi-statement text the reply would be concatenated: refused even when merging.
    Analysis multi = analyze("SELECT 1; SELECT count(*) FROM users", testing::test_catalog());
    EXPECT_EQ(route(multi, {}, testing::test_map(), merging).kind, Route::Kind::Error);
    // With a key it is one shard either way.
    Analysis one = analyze("SELECT count(*) FROM users WHERE id = 7", testing::test_catalog());
    EXPECT_EQ(route(one, {}, testing::test_map(), RouterContext{}).kind, Route::Kind::Single);
}

}  // namespace
}  // namespace sg::router
