// Fan-out SELECTs the proxy combines (aggregates, ORDER BY, LIMIT/OFFSET, DISTINCT): recognised
// by the analyzer with a merge plan, still refused by the router unless the caller merges.
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
        {"SELECT count(*) FROM users", {M::Count}},
        {"SELECT count(name), sum(id) FROM users WHERE name <> 'x'", {M::Count, M::Sum}},
        {"SELECT min(id) AS lo, max(id) AS hi FROM users", {M::Min, M::Max}},
        {"SELECT pg_catalog.count(*) FROM users", {M::Count}},
        {"SELECT name, count(*) FROM users GROUP BY name", {M::Group, M::Count}},
        {"SELECT max(id), u.name FROM users u WHERE id > 3 GROUP BY u.name", {M::Max, M::Group}},
        {"SELECT name FROM users GROUP BY name", {M::Group}},
        {"SELECT avg(id), name FROM users GROUP BY name", {M::Avg, M::Group}},
        {"SELECT count(DISTINCT name), count(*) FROM users", {M::CountDistinct, M::Count}},
        {"SELECT bool_and(id > 0), every(id > 1), bool_or(name = 'x'), bit_and(id), bit_or(id), "
         "bit_xor(id) "
         "FROM users",
         {M::BoolAnd, M::BoolAnd, M::BoolOr, M::BitAnd, M::BitOr, M::BitXor}},
        {"SELECT name, string_agg(name, ', ') FROM users GROUP BY name", {M::Group, M::StringAgg}},
    };
    for (const auto& c : cases) {
        Analysis a = analyze(c.sql, testing::test_catalog());
        ASSERT_TRUE(a.merge) << c.sql;
        EXPECT_EQ(a.merge->aggregates, c.merge) << c.sql;
        EXPECT_FALSE(a.fanout_blocker.empty()) << c.sql;
    }
}

TEST(AggregateMerge, EverythingElseIsNot) {
    const char* cases[] = {
        "SELECT count(DISTINCT name) FILTER (WHERE id > 1) FROM users",
        "SELECT avg(DISTINCT id) FROM users",
        "SELECT avg(*) FROM users",
        "SELECT count(*) FILTER (WHERE id > 1) FROM users",
        "SELECT count(*) + 1 FROM users",
        "SELECT count(*), name FROM users",
        "SELECT count(*) FROM users GROUP BY name",
        "SELECT name, count(*) FROM users GROUP BY name, id",
        "SELECT lower(name), count(*) FROM users GROUP BY lower(name)",
        "SELECT name, count(*) FROM users GROUP BY 1",
        "SELECT count(*) FROM users HAVING count(DISTINCT name) > 2",
        "SELECT count(*) FROM users HAVING avg(id) > 2",
        "SELECT name, count(*) FROM users GROUP BY name, id HAVING id > 2",
        "SELECT count(*) FROM users HAVING count(*) > (SELECT 1)",
        "SELECT id FROM users HAVING true",
        "SELECT sum(count(*)) OVER () FROM users",
        "SELECT string_agg(name, ',' ORDER BY name) FROM users",
        "SELECT string_agg(name, name) FROM users",
        "SELECT string_agg(DISTINCT name, ',') FROM users",
        "SELECT count(*) FROM users HAVING string_agg(name, ',') <> ''",
        "SELECT myschema.sum(id) FROM users",
        "SELECT id FROM users ORDER BY 2",
        "SELECT id FROM users ORDER BY id USING <",
        "SELECT id FROM users LIMIT 2 + 1",
        "SELECT id FROM users LIMIT $1 + 1",
        "SELECT id FROM users ORDER BY id FETCH FIRST 3 ROWS WITH TIES",
        "SELECT DISTINCT ON (name) name, id FROM users",
        "SELECT DISTINCT id FROM users ORDER BY name",
        "SELECT name, count(*) FROM users GROUP BY name ORDER BY count(*)",
        "SELECT DISTINCT count(*) FROM users",
        "SELECT id, row_number() OVER () FROM users ORDER BY id",
        "SELECT id FROM users INTERSECT SELECT id FROM users",
        "SELECT id FROM users EXCEPT ALL SELECT id FROM users",
        // UNION ALL with rows that are on every shard (a reference table, no table at all).
        "SELECT id FROM users UNION ALL SELECT id FROM countries ORDER BY 1",
        "SELECT id FROM users UNION ALL SELECT 1 ORDER BY 1",
        // An arm that needs combining of its own, or ORDER BY an expression.
        "SELECT id FROM users UNION (SELECT id FROM users ORDER BY id LIMIT 1)",
        "SELECT id FROM users UNION SELECT id FROM users ORDER BY id + 1",
        // An arm's own plan must not be taken for the set operation's.
        "SELECT count(*) FROM users UNION ALL SELECT count(*) FROM users",
        "(SELECT id FROM users ORDER BY id LIMIT 2) UNION ALL SELECT id FROM users",
        "(SELECT max(id) FROM users) EXCEPT (SELECT min(id) FROM users)",
        // Wrappers: a plan's text or a cursor's FETCHes are not the SELECT's rows.
        "EXPLAIN SELECT count(*) FROM users",
        "DECLARE c CURSOR WITH HOLD FOR SELECT count(*) FROM users",
        "DECLARE c CURSOR WITH HOLD FOR SELECT id FROM users ORDER BY id LIMIT 3",
        "SELECT id FROM users ORDER BY id FOR UPDATE",
    };
    for (const char* sql : cases) {
        Analysis a = analyze(sql, testing::test_catalog());
        EXPECT_FALSE(a.merge) << sql;
    }
}

TEST(AggregateMerge, OrderLimitAndDistinctArePlanned) {
    using K = Analysis::SortKey;
    struct Case {
        const char* sql;
        std::vector<K> order;
        std::optional<int64_t> limit;
        int64_t offset;
        bool distinct;
        const char* shard_sql;  // "" when the shards run the client's text
    } cases[] = {
        {"SELECT id, name FROM users ORDER BY id DESC LIMIT 10",
         {{0, "id", true, -1}},
         10,
         0,
         false,
         ""},
        {"SELECT * FROM users ORDER BY 2, id NULLS FIRST",
         {{2, "", false, -1}, {0, "", false, 1, 1}},
         {},
         0,
         false,
         "SELECT *, id AS shardgate_sort_1 FROM users ORDER BY 2, id NULLS FIRST"},
        {"SELECT u.id AS k FROM users u ORDER BY k LIMIT 5 OFFSET 20",
         {{0, "k", false, -1}},
         5,
         20,
         false,
         "SELECT u.id AS k FROM users u ORDER BY k LIMIT 25"},
        {"SELECT id FROM users OFFSET 3", {}, {}, 3, false, "SELECT id FROM users"},
        {"SELECT id FROM users ORDER BY users.id DESC NULLS LAST FETCH FIRST 2 ROWS ONLY",
         {{0, "id", true, 0}},
         2,
         0,
         false,
         ""},
        {"SELECT id FROM users LIMIT ALL", {}, {}, 0, false, ""},
        {"SELECT DISTINCT name FROM users ORDER BY name LIMIT 3",
         {{0, "name", false, -1}},
         3,
         0,
         true,
         ""},
        // Not output columns: the shards select them after the client's columns.
        {"SELECT id FROM users ORDER BY name DESC, 1",
         {{0, "", true, -1, 1}, {1, "", false, -1}},
         {},
         0,
         false,
         "SELECT id, name AS shardgate_sort_1 FROM users ORDER BY name DESC, 1"},
        // A text expression over one column: that column comes back too, for its collation.
        {"SELECT id AS name FROM users ORDER BY users.name, lower(name) LIMIT 4 OFFSET 1",
         {{0, "", false, -1, 1}, {0, "", false, -1, 2, "", 3}},
         4,
         1,
         false,
         "SELECT id AS name, users.name AS shardgate_sort_1, lower(name) AS shardgate_sort_2, name "
         "AS "
         "shardgate_sort_3 FROM users ORDER BY users.name, lower(name) LIMIT 5"},
        {"SELECT id FROM users ORDER BY name || name, id",
         {{0, "", false, -1, 1, "", 2}, {0, "id", false, -1}},
         {},
         0,
         false,
         "SELECT id, name || name AS shardgate_sort_1, name AS shardgate_sort_2 FROM users ORDER "
         "BY name || name, id"},
        // Two columns (or none): no single collation to read; the proxy decides by the type.
        {"SELECT id FROM users ORDER BY name || id::text",
         {{0, "", false, -1, 1}},
         {},
         0,
         false,
         "SELECT id, name || id::text AS shardgate_sort_1 FROM users ORDER BY name || id::text"},
        {"SELECT id FROM users ORDER BY lower(name) COLLATE pg_catalog.\"C\" DESC",
         {{0, "", true, -1, 1, "\"pg_catalog\".\"C\""}},
         {},
         0,
         false,
         "SELECT id, lower(name) COLLATE pg_catalog.\"C\" AS shardgate_sort_1 FROM users ORDER BY "
         "lower(name) "
         "COLLATE pg_catalog.\"C\" DESC"},
        {"SELECT * FROM users u ORDER BY u.id",
         {{0, "", false, -1, 1}},
         {},
         0,
         false,
         "SELECT *, u.id AS shardgate_sort_1 FROM users u ORDER BY u.id"},
        // avg(x): the shards return sum(x) in its place and count(x) after the client's columns.
        {"SELECT name, avg(id) AS a, avg(id + 1) FROM users GROUP BY name ORDER BY a DESC",
         {{0, "a", true, -1}},
         {},
         0,
         false,
         "SELECT name, sum(id) AS a, sum(id + 1) AS avg, count(id) AS shardgate_avg_count_1, "
         "count(id + 1) AS "
         "shardgate_avg_count_2 FROM users GROUP BY name"},
        // count(DISTINCT x): x grouped on the shards, counted by the combining query.
        {"SELECT name, count(DISTINCT id) AS ids, sum(id) FROM users GROUP BY name ORDER BY ids",
         {{0, "ids", false, -1}},
         {},
         0,
         false,
         "SELECT name, id AS ids, sum(id) FROM users GROUP BY name, id"},
        {"SELECT name, count(*) AS n FROM users GROUP BY name ORDER BY n DESC LIMIT 3 OFFSET 1",
         {{0, "n", true, -1}},
         3,
         1,
         false,
         "SELECT name, count(*) AS n FROM users GROUP BY name"},
    };
    for (const auto& c : cases) {
        Analysis a = analyze(c.sql, testing::test_catalog());
        ASSERT_TRUE(a.merge) << c.sql;
        EXPECT_EQ(a.merge->order, c.order) << c.sql;
        EXPECT_EQ(a.merge->limit, c.limit) << c.sql;
        EXPECT_EQ(a.merge->offset, c.offset) << c.sql;
        EXPECT_EQ(a.merge->distinct, c.distinct) << c.sql;
        EXPECT_EQ(a.merge->shard_sql, c.shard_sql) << c.sql;
        // What the shards run is itself a statement the router plans the same way.
        if (*c.shard_sql) {
            Analysis shard = analyze(c.shard_sql, testing::test_catalog());
            EXPECT_EQ(shard.placement, Placement::Sharded) << c.shard_sql;
        }
    }
}

TEST(AggregateMerge, UnionsAreConcatenatedOrMadeDistinct) {
    // UNION ALL of sharded arms: the shards' rows together, nothing to combine.
    Analysis all = analyze("SELECT id FROM users WHERE id > 3 UNION ALL SELECT user_id FROM orders",
                           testing::test_catalog());
    EXPECT_EQ(all.fanout_blocker, "");
    EXPECT_FALSE(all.merge);
    struct Case {
        const char* sql;
        bool distinct;
        std::vector<Analysis::SortKey> order;
        std::optional<int64_t> limit;
        int64_t offset;
        const char* shard_sql;
    } cases[] = {
        {"SELECT id FROM users UNION SELECT user_id FROM orders", true, {}, {}, 0, ""},
        // A reference arm's rows, on every shard, collapse in the distinct rows.
        {"SELECT id FROM users UNION SELECT id FROM countries ORDER BY 1 DESC",
         true,
         {{1, "", true, -1}},
         {},
         0,
         ""},
        {"SELECT id, name AS n FROM users UNION ALL SELECT id, name FROM users ORDER BY n LIMIT 3 "
         "OFFSET 1",
         false,
         {{0, "n", false, -1}},
         3,
         1,
         "SELECT id, name AS n FROM users UNION ALL SELECT id, name FROM users ORDER BY n LIMIT 4"},
    };
    for (const auto& c : cases) {
        Analysis a = analyze(c.sql, testing::test_catalog());
        ASSERT_TRUE(a.merge) << c.sql;
        EXPECT_EQ(a.merge->distinct, c.distinct) << c.sql;
        EXPECT_EQ(a.merge->order, c.order) << c.sql;
        EXPECT_EQ(a.merge->limit, c.limit) << c.sql;
        EXPECT_EQ(a.merge->offset, c.offset) << c.sql;
        EXPECT_EQ(a.merge->shard_sql, c.shard_sql) << c.sql;
        EXPECT_TRUE(a.merge->aggregates.empty()) << c.sql;
    }
}

TEST(AggregateMerge, StringAggKeepsItsSeparator) {
    Analysis a =
        analyze("SELECT string_agg(name, 'it''s'), count(*), string_agg(name, '') FROM users",
                testing::test_catalog());
    ASSERT_TRUE(a.merge);
    EXPECT_EQ(a.merge->aggregates, (std::vector<M>{M::StringAgg, M::Count, M::StringAgg}));
    EXPECT_EQ(a.merge->separators, (std::vector<std::string>{"'it''s'", "", "''"}));
    Analysis b = analyze("SELECT string_agg(name, E'\\\\') FROM users", testing::test_catalog());
    ASSERT_TRUE(b.merge);
    EXPECT_EQ(b.merge->separators, (std::vector<std::string>{"E'\\\\'"}));  // one backslash
    EXPECT_EQ(a.merge->shard_sql, "");  // each shard aggregates its own rows as the client wrote it
}

TEST(AggregateMerge, LimitAndOffsetParametersAreBoundPerExecution) {
    struct Case {
        const char* sql;
        uint32_t limit_param, offset_param;
        std::optional<int64_t> limit;
        int64_t offset;
        const char* shard_sql;  // "" when the shards run the client's text
    } cases[] = {
        // The shards apply the client's own LIMIT $n.
        {"SELECT id FROM users ORDER BY id LIMIT $1", 1, 0, {}, 0, ""},
        // With an OFFSET, each shard returns the first limit + offset rows, as bigint arithmetic.
        {"SELECT id FROM users WHERE name = $1 ORDER BY id LIMIT $2 OFFSET $3",
         2,
         3,
         {},
         0,
         "SELECT id FROM users WHERE name = $1 ORDER BY id LIMIT ($2::bigint + $3::bigint)"},
        {"SELECT id FROM users ORDER BY id LIMIT 10 OFFSET $1", 0, 1, 10, 0,
         "SELECT id FROM users ORDER BY id LIMIT (10 + $1::bigint)"},
        {"SELECT id FROM users ORDER BY id LIMIT $1 OFFSET 5",
         1,
         0,
         {},
         5,
         "SELECT id FROM users ORDER BY id LIMIT ($1::bigint + 5)"},
        {"SELECT id FROM users ORDER BY id OFFSET $1",
         0,
         1,
         {},
         0,
         "SELECT id FROM users ORDER BY id"},
        // Aggregates: the shards return every group, LIMIT and OFFSET apply to the combined ones.
        {"SELECT name, count(*) FROM users GROUP BY name ORDER BY 2 DESC LIMIT $1 OFFSET $2",
         1,
         2,
         {},
         0,
         "SELECT name, count(*) FROM users GROUP BY name"},
    };
    for (const auto& c : cases) {
        Analysis a = analyze(c.sql, testing::test_catalog());
        ASSERT_TRUE(a.merge) << c.sql;
        EXPECT_EQ(a.merge->limit_param, c.limit_param) << c.sql;
        EXPECT_EQ(a.merge->offset_param, c.offset_param) << c.sql;
        EXPECT_EQ(a.merge->limit, c.limit) << c.sql;
        EXPECT_EQ(a.merge->offset, c.offset) << c.sql;
        EXPECT_EQ(a.merge->shard_sql, c.shard_sql) << c.sql;
    }
}

TEST(AggregateMerge, HavingIsAppliedToTheCombinedGroups) {
    struct Case {
        const char* sql;
        const char* having;
        std::vector<M> extra;
        const char* shard_sql;
    } cases[] = {
        {"SELECT count(*) FROM users HAVING count(*) > 2",
         "shardgate_having_column_0 > 2",
         {},
         "SELECT count(*) FROM users"},
        {"SELECT name, count(*) FROM users GROUP BY name HAVING max(id) > 3 AND users.name <> 'x'",
         "shardgate_having_column_2 > 3 AND shardgate_having_column_0 <> 'x'",
         {M::Max},
         "SELECT name, count(*), max(id) AS shardgate_having_1 FROM users GROUP BY name"},
        {"SELECT name, avg(id) AS a FROM users GROUP BY name HAVING abs(avg(id)) < 10 OR COUNT(*) "
         "= 1 "
         "ORDER BY a LIMIT 5",
         "abs(shardgate_having_column_1) < 10 OR shardgate_having_column_3 = 1",
         {M::Count},
         "SELECT name, sum(id) AS a, count(id) AS shardgate_avg_count_1, count(*) AS "
         "shardgate_having_1 FROM users "
         "GROUP BY name"},
    };
    for (const auto& c : cases) {
        Analysis a = analyze(c.sql, testing::test_catalog());
        ASSERT_TRUE(a.merge) << c.sql;
        EXPECT_EQ(a.merge->having, c.having) << c.sql;
        EXPECT_EQ(a.merge->extra_aggregates, c.extra) << c.sql;
        EXPECT_EQ(a.merge->shard_sql, c.shard_sql) << c.sql;
        EXPECT_EQ(a.merge->hidden,
                  std::count(a.merge->aggregates.begin(), a.merge->aggregates.end(), M::Avg) +
                      c.extra.size())
            << c.sql;
    }
}

TEST(AggregateMerge, OnlyAMergingCallerMayFanThemOut) {
    Analysis a = analyze("SELECT count(*) FROM users", testing::test_catalog());
    Route refused = route(a, {}, testing::test_map(), RouterContext{});
    EXPECT_EQ(refused.kind, Route::Kind::Error);
    EXPECT_EQ(refused.error.sqlstate, "0A000");
    RouterContext merging;
    merging.merge_results = true;
    Route fanned = route(a, {}, testing::test_map(), merging);
    EXPECT_EQ(fanned.kind, Route::Kind::All);
    EXPECT_EQ(fanned.shards.size(), 4u);
    // Inside a multi-statement text the reply would be concatenated: refused even when merging.
    Analysis multi = analyze("SELECT 1; SELECT count(*) FROM users", testing::test_catalog());
    EXPECT_EQ(route(multi, {}, testing::test_map(), merging).kind, Route::Kind::Error);
    // With a key it is one shard either way.
    Analysis one = analyze("SELECT count(*) FROM users WHERE id = 7", testing::test_catalog());
    EXPECT_EQ(route(one, {}, testing::test_map(), RouterContext{}).kind, Route::Kind::Single);
    // Ordered and limited rows: the same.
    Analysis top = analyze("SELECT id FROM users ORDER BY id LIMIT 3", testing::test_catalog());
    EXPECT_EQ(route(top, {}, testing::test_map(), RouterContext{}).kind, Route::Kind::Error);
    Route merged = route(top, {}, testing::test_map(), merging);
    EXPECT_EQ(merged.kind, Route::Kind::All);
    ASSERT_FALSE(merged.why.empty());
    EXPECT_NE(merged.why.back().find("LIMIT 3"), std::string::npos) << merged.why.back();
}

}  // namespace
}  // namespace sg::router
