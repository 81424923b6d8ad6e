// Multi-row INSERT: rows are grouped per shard and each group re-rendered as its own INSERT,
// keeping the column list, ON CONFLICT and RETURNING, with parameters renumbered.
#include <gtest/gtest.h>

#include "router/router.h"
#include "tests/unit/router/router_fixture.h"

namespace sg::router {
namespace {

using testing::text_param;

TEST(InsertSplit, SimpleProtocolRowsPerShard) {
    const std::string sql =
        "INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'b(,)'), (4, 'c'), (3, 'd'), (5, 'e') "
        "RETURNING id";
    Analysis a = analyze(sql, testing::test_catalog());
    ASSERT_EQ(a.rows.size(), 5u);
    EXPECT_TRUE(a.returning);
    Route r = route(a, {}, testing::test_map(), {});
    ASSERT_EQ(r.kind, Route::Kind::All);  // 1 -> s2, 2 -> s3, 4/5 -> s0, 3 -> s1
    ASSERT_EQ(r.insert_rows.size(), 4u);
    EXPECT_EQ(r.insert_rows[0].shard, 0);
    EXPECT_EQ(r.insert_rows[0].rows, (std::vector<uint32_t>{2, 4}));
    EXPECT_EQ(r.keys.size(), 5u);

    auto s0 = render_insert_subset(a, sql, r.insert_rows[0].rows);
    EXPECT_EQ(s0.sql, "INSERT INTO users (id, name) VALUES (4, 'c'), (5, 'e') RETURNING id");
    EXPECT_TRUE(s0.param_map.empty());
    auto s3 = render_insert_subset(a, sql, {1});
    EXPECT_EQ(s3.sql, "INSERT INTO users (id, name) VALUES (2, 'b(,)') RETURNING id");
}

// Without a column list the INSERT is refused as analysed, with the place a column list goes,
// so the proxy can supply the table's columns and analyse the rewritten text.
TEST(InsertSplit, MissingColumnListIsLocated) {
    struct Case {
        std::string sql;
        std::string before;  // the text up to the column list's place
        uint32_t values;
    } cases[] = {
        {"INSERT INTO users VALUES (1, 'a'), (2, 'b', 3)", "INSERT INTO users ", 3},
        {"insert into public.users as u values (1, 'a')", "insert into public.users as u ", 2},
        {"INSERT INTO users OVERRIDING SYSTEM VALUE VALUES (1)", "INSERT INTO users ", 1},
        {"/* c */ INSERT INTO \"users\" VALUES ((1), '(')", "/* c */ INSERT INTO \"users\" ", 2},
    };
    for (const auto& c : cases) {
        Analysis a = analyze(c.sql, testing::test_catalog());
        ASSERT_TRUE(a.refusal.has_value()) << c.sql;
        EXPECT_NE(a.refusal->message.find("must list its columns"), std::string::npos) << c.sql;
        EXPECT_EQ(c.sql.substr(0, a.column_list_at), c.before) << c.sql;
        EXPECT_EQ(a.values_per_row, c.values) << c.sql;
    }
    // With a column list, nothing to supply.
    EXPECT_EQ(analyze("INSERT INTO users (id) VALUES (1)", testing::test_catalog()).column_list_at,
              0u);
}

// COPY ... FROM STDIN without a column list: the list goes before FROM (the proxy supplies every
// column the table stores, as PostgreSQL's COPY would read them).
TEST(InsertSplit, CopyMissingColumnListIsLocated) {
    struct Case {
        std::string sql;
        std::string before;
    } cases[] = {
        {"COPY users FROM STDIN", "COPY users "},
        {"copy public.users from stdin with (format csv)", "copy public.users "},
        {"/* x */ COPY \"users\"\nFROM STDIN", "/* x */ COPY \"users\"\n"},
    };
    for (const auto& c : cases) {
        Analysis a = analyze(c.sql, testing::test_catalog());
        ASSERT_TRUE(a.refusal.has_value()) << c.sql;
        EXPECT_NE(a.refusal->message.find("without a column list"), std::string::npos) << c.sql;
        EXPECT_EQ(c.sql.substr(0, a.column_list_at), c.before) << c.sql;
    }
    // A listed COPY, a COPY TO and an unsharded table need nothing.
    EXPECT_EQ(analyze("COPY users (id) FROM STDIN", testing::test_catalog()).column_list_at, 0u);
    EXPECT_EQ(analyze("COPY users TO STDOUT", testing::test_catalog()).column_list_at, 0u);
    EXPECT_EQ(analyze("COPY logs FROM STDIN", testing::test_catalog()).column_list_at, 0u);
}

TEST(InsertSplit, TwoShardsIsMulti) {
    Route r = testing::route_sql("INSERT INTO users (id) VALUES (4), (1), (5)");
    ASSERT_EQ(r.kind, Route::Kind::Multi);
    EXPECT_EQ(r.shards, (std::vector<uint16_t>{0, 2}));
}

TEST(InsertSplit, ExtendedProtocolRenumbersParameters) {
    const std::string sql =
        "INSERT INTO users (name, id) VALUES ($1, $2), ($3, $4), ($5, $6) "
        "ON CONFLICT (id) DO UPDATE SET name = $7 RETURNING id, name";
    Analysis a = analyze(sql, testing::test_catalog());
    ASSERT_FALSE(a.refusal) << a.refusal->message;
    Params p = {text_param("a"), text_param("4"), text_param("b"), text_param("1"),
                text_param("c"), text_param("5"), text_param("z")};
    Route r = route(a, p, testing::test_map(), {});
    ASSERT_EQ(r.kind, Route::Kind::Multi);
    ASSERT_EQ(r.insert_rows.size(), 2u);
    EXPECT_EQ(r.insert_rows[0].rows, (std::vector<uint32_t>{0, 2}));  // keys 4 and 5 -> s0
    auto s0 = render_insert_subset(a, sql, r.insert_rows[0].rows);
    EXPECT_EQ(s0.sql,
              "INSERT INTO users (name, id) VALUES ($1, $2), ($3, $4) "
              "ON CONFLICT (id) DO UPDATE SET name = $5 RETURNING id, name");
    EXPECT_EQ(s0.param_map, (std::vector<int>{1, 2, 5, 6, 7}));
    auto s2 = render_insert_subset(a, sql, r.insert_rows[1].rows);
    EXPECT_EQ(s2.sql,
              "INSERT INTO users (name, id) VALUES ($1, $2) "
              "ON CONFLICT (id) DO UPDATE SET name = $3 RETURNING id, name");
    EXPECT_EQ(s2.param_map, (std::vector<int>{3, 4, 7}));
}

TEST(InsertSplit, RepeatedParameterKeepsOneNumber) {
    const std::string sql = "INSERT INTO users (id, a, b) VALUES ($2, $1, $1), ($3, $1, 0)";
    Analysis a = analyze(sql, testing::test_catalog());
    auto out = render_insert_subset(a, sql, {1});
    EXPECT_EQ(out.sql, "INSERT INTO users (id, a, b) VALUES ($1, $2, 0)");
    EXPECT_EQ(out.param_map, (std::vector<int>{3, 1}));
}

TEST(InsertSplit, StatementInsideMultiStatementText) {
    const std::string sql = "SELECT 1; INSERT INTO users (id) VALUES (4), (1)";
    Analysis a = analyze(sql, testing::test_catalog());
    ASSERT_EQ(a.statements.size(), 2u);
    const Analysis& ins = a.statements[1];
    EXPECT_EQ(render_insert_subset(ins, sql, {1}).sql, "INSERT INTO users (id) VALUES (1)");
}

}  // namespace
}  // namespace sg::router
