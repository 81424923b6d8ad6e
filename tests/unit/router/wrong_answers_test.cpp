// Issue 16: statements the router used to answer wrongly (or fail where PostgreSQL answers),
// each now routed where PostgreSQL's semantics put its rows, or refused with 0A000.
#include <gtest/gtest.h>

#include "router/param_keys.h"
#include "tests/unit/router/router_fixture.h"

namespace sg::router {
namespace {

using testing::route_sql;
using testing::test_catalog;
using testing::text_param;
using K = Route::Kind;

Param typed(std::string_view v, uint32_t oid) {
    return Param{false, ParamFormat::Text, v, oid};
}

bool why_mentions(const Analysis& a, const std::string& text) {
    for (const auto& w : a.why)
        if (w.find(text) != std::string::npos) return true;
    return false;
}

TEST(WrongAnswers, ArrayLiteralKeysAreExplainedWithTheirValues) {
    // The keys were moved from before being displayed: `shardgate route` printed "ANY ()".
    Analysis a = analyze("SELECT * FROM users WHERE id = ANY('{4,5}')", test_catalog());
    EXPECT_TRUE(why_mentions(a, "id = ANY (4, 5)")) << (a.why.empty() ? "" : a.why.back());
    Analysis t =
        analyze("SELECT * FROM docs WHERE name = ANY('{alice,bob}'::text[])", test_catalog());
    EXPECT_TRUE(why_mentions(t, "name = ANY (alice, bob)"));
}

TEST(WrongAnswers, CastsThatChangeArrayElementsLeaveTheShardsToDecide) {
    // bpchar trims, varchar(2) truncates, numeric/float8 compare across types: every shard.
    for (const char* sql : {"SELECT * FROM docs WHERE name = ANY('{\"alice  \"}'::bpchar[])",
                            "SELECT * FROM docs WHERE name = ANY('{alicexyz}'::varchar(2)[])",
                            "SELECT * FROM users WHERE id = ANY('{5.0,6}'::numeric[])",
                            "SELECT * FROM users WHERE id = ANY('{1e3}'::float8[])",
                            "SELECT * FROM tiny WHERE k = ANY('{70000}'::bigint[])",
                            "SELECT * FROM users WHERE id = ANY('{{1,2},{3,4}}'::bigint[])",
                            "SELECT * FROM users WHERE id = ANY('[1:2][1:1]={{1},{2}}')"}) {
        Route r = route_sql(sql);
        EXPECT_EQ(r.kind, K::All) << sql << ": " << r.error.message;
    }
    // Casts to the key's own type keep the values.
    EXPECT_EQ(route_sql("SELECT * FROM users WHERE id = ANY('{4,5}'::bigint[])").kind, K::Single);
    EXPECT_EQ(route_sql("SELECT * FROM users WHERE id = ANY('{4,5}'::int[])").kind, K::Single);
    EXPECT_EQ(route_sql("SELECT * FROM docs WHERE name = ANY('{alice}'::text[])").shards,
              route_sql("SELECT * FROM docs WHERE name = 'alice'").shards);
}

TEST(WrongAnswers, SemiJoinsWhoseSubqueryPicksRowsAcrossShardsAreRefused) {
    const std::pair<const char*, const char*> refused[] = {
        {"SELECT * FROM users WHERE id IN (SELECT DISTINCT ON (name) id FROM users ORDER BY name, "
         "id)",
         "DISTINCT ON"},
        {"DELETE FROM users WHERE id IN (SELECT DISTINCT ON (name) id FROM users ORDER BY name, "
         "id)",
         "DISTINCT ON"},
        {"SELECT * FROM users WHERE id IN (SELECT id FROM users ORDER BY name LIMIT 3)", "LIMIT"},
        {"SELECT * FROM users WHERE id IN (SELECT id FROM users OFFSET 3)", "OFFSET"},
        {"SELECT * FROM users WHERE id IN (SELECT id FROM users ORDER BY row_number() OVER (ORDER "
         "BY name))",
         "window function"},
        {"SELECT * FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o GROUP BY o.amount)",
         "GROUP BY without the shard key"},
    };
    for (const auto& [sql, construct] : refused) {
        Route r = route_sql(sql);
        ASSERT_EQ(r.kind, K::Error) << sql;
        EXPECT_EQ(r.error.sqlstate, "0A000") << sql;
        EXPECT_NE(r.error.message.find(construct), std::string::npos)
            << sql << ": " << r.error.message;
    }
    // Each row's fate depends on itself or its key's group: every shard answers for its rows.
    for (const char* sql :
         {"SELECT * FROM users WHERE id IN (SELECT DISTINCT id FROM users WHERE name > 'b')",
          "SELECT * FROM users WHERE id IN (SELECT id FROM users GROUP BY id HAVING count(*) > 0)",
          "SELECT * FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o GROUP BY o.user_id "
          "HAVING sum(o.amount) > 10)"}) {
        EXPECT_EQ(route_sql(sql).kind, K::All) << sql << ": " << route_sql(sql).error.message;
    }
}

TEST(WrongAnswers, WindowFunctionInOrderByIsNotMerged) {
    RouterContext merging;
    merging.merge_results = true;
    Route r = route_sql(
        "SELECT id FROM users ORDER BY row_number() OVER (ORDER BY id DESC) LIMIT 3", {}, merging);
    ASSERT_EQ(r.kind, K::Error);
    EXPECT_NE(r.error.message.find("window function row_number()"), std::string::npos)
        << r.error.message;
}

TEST(WrongAnswers, ParametersAreReadAsTheirDeclaredTypes) {
    const std::string text_key = "SELECT * FROM docs WHERE name = $1";
    // bpchar meets text without its padding.
    EXPECT_EQ(route_sql(text_key, {typed("alice   ", 1042)}).shards,
              route_sql(text_key, {text_param("alice")}).shards);
    EXPECT_NE(route_sql(text_key, {text_param("alice   ")}).shards,
              route_sql(text_key, {text_param("alice")}).shards)
        << "a text parameter keeps its spaces";
    // A numeric or float equal to an integer key finds it; one that is not finds nothing.
    const std::string int_key = "SELECT * FROM users WHERE id = $1";
    const auto five = route_sql(int_key, {text_param("5")}).shards;
    EXPECT_EQ(route_sql(int_key, {typed("5.0", 1700)}).shards, five);
    EXPECT_EQ(route_sql(int_key, {typed(" 0.5e1 ", 1700)}).shards, five);
    EXPECT_EQ(route_sql(int_key, {typed("5", 701)}).shards, five);
    Route half = route_sql(int_key, {typed("5.5", 1700)});
    EXPECT_EQ(half.kind, K::Single) << half.error.message;
    EXPECT_TRUE(half.keys.empty());
    EXPECT_EQ(route_sql(int_key, {typed("NaN", 1700)}).kind, K::All);
    // An int8 beyond a smallint key matches nothing (PostgreSQL compares across types)...
    Route big = route_sql("SELECT * FROM tiny WHERE k = $1", {typed("3000000000", 20)});
    EXPECT_EQ(big.kind, K::Single) << big.error.message;
    EXPECT_TRUE(big.keys.empty());
    // ... while a parameter PostgreSQL types as the key itself fails as its input does.
    Route undeclared = route_sql("SELECT * FROM tiny WHERE k = $1", {text_param("3000000000")});
    ASSERT_EQ(undeclared.kind, K::Error);
    EXPECT_EQ(undeclared.error.sqlstate, "22003");
    // Arrays of another element type: every shard.
    EXPECT_EQ(route_sql("SELECT * FROM users WHERE id = ANY($1)", {typed("{5.0,6}", 1231)}).kind,
              K::All);
    EXPECT_EQ(
        route_sql("SELECT * FROM users WHERE id = ANY($1)", {text_param("{{1,2},{3,4}}")}).kind,
        K::All);
    // Stored into an integer key, a numeric is rounded half away from zero.
    EXPECT_EQ(route_sql("INSERT INTO users (id) VALUES ($1)", {typed("5.5", 1700)}).shards,
              route_sql("INSERT INTO users (id) VALUES (6)").shards);
    EXPECT_EQ(route_sql("INSERT INTO tiny (k) VALUES ($1)", {typed("40000", 23)}).error.sqlstate,
              "22003");
}

TEST(WrongAnswers, LimitParametersConvertAsPostgresDoes) {
    EXPECT_EQ(*bigint_param(ParamFormat::Text, "2.5", 1700), 3);
    EXPECT_EQ(*bigint_param(ParamFormat::Text, "-2.5", 1700), -3);
    EXPECT_EQ(*bigint_param(ParamFormat::Text, "2.4999", 1700), 2);
    EXPECT_EQ(*bigint_param(ParamFormat::Text, "2.5", 701), 2);  // rint: half to even
    EXPECT_EQ(*bigint_param(ParamFormat::Text, "3.5", 701), 4);
    EXPECT_EQ(*bigint_param(ParamFormat::Text, "7", 0), 7);
    EXPECT_FALSE(bigint_param(ParamFormat::Text, "2.5", 0));  // int8in rejects it
}

TEST(WrongAnswers, SequencesStayOffShardedTables) {
    const std::pair<const char*, const char*> refused[] = {
        {"CREATE TABLE users (id bigserial PRIMARY KEY, name text)", "serial"},
        {"CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY, name text)", "identity"},
        {"CREATE TABLE countries (code text, n int DEFAULT nextval('s'))", "nextval"},
        {"ALTER TABLE users ADD COLUMN n serial", "serial"},
        {"ALTER TABLE users ALTER COLUMN id SET DEFAULT nextval('s')", "nextval"},
        {"ALTER TABLE users ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY", "identity"},
        {"SELECT nextval('s') FROM users WHERE id = 4", "nextval"},
        {"INSERT INTO users (id, name) VALUES (4, nextval('s')::text)", "nextval"},
        {"CREATE TABLE docs (name text COLLATE \"ci\" PRIMARY KEY)", "COLLATE"},
        {"ALTER TABLE docs ALTER COLUMN name TYPE text COLLATE ci", "COLLATE"},
    };
    for (const auto& [sql, construct] : refused) {
        Route r = route_sql(sql);
        ASSERT_EQ(r.kind, K::Error) << sql;
        EXPECT_EQ(r.error.sqlstate, "0A000") << sql;
        EXPECT_NE(r.error.message.find(construct), std::string::npos)
            << sql << ": " << r.error.message;
    }
    EXPECT_EQ(route_sql("CREATE TABLE docs (name text COLLATE \"C\" PRIMARY KEY, n serial)").kind,
              K::Error);
    EXPECT_EQ(route_sql("CREATE TABLE docs (name text COLLATE \"C\" PRIMARY KEY)").kind, K::All);
    EXPECT_EQ(route_sql("CREATE TABLE docs (name text COLLATE \"de-x-icu\" PRIMARY KEY)").kind,
              K::All);
    EXPECT_EQ(route_sql("CREATE TABLE unlisted (id bigserial)").kind, K::Default);
    // Sequences are default-shard objects: created, used and dropped there.
    EXPECT_EQ(route_sql("CREATE SEQUENCE s").kind, K::Default);
    EXPECT_EQ(route_sql("DROP SEQUENCE s").kind, K::Default);
    EXPECT_EQ(route_sql("SELECT nextval('s')").kind, K::Default);
}

TEST(WrongAnswers, ReturningAcrossShardsWithOnConflictIsRefused) {
    Route r =
        route_sql("INSERT INTO users (id) VALUES (1), (2) ON CONFLICT DO NOTHING RETURNING id");
    ASSERT_EQ(r.kind, K::Error);
    EXPECT_NE(r.error.message.find("RETURNING"), std::string::npos);
    EXPECT_EQ(route_sql("INSERT INTO users (id) VALUES (1), (2) RETURNING id").kind, K::Multi);
    EXPECT_EQ(
        route_sql("INSERT INTO users (id) VALUES (4), (5) ON CONFLICT DO NOTHING RETURNING id")
            .kind,
        K::Single);
    // DO UPDATE without WHERE returns one row per VALUES row: put back in order by the proxy.
    EXPECT_EQ(route_sql("INSERT INTO users (id) VALUES (1), (2) ON CONFLICT (id) DO UPDATE SET "
                        "name = 'x' RETURNING id")
                  .kind,
              K::Multi);
    EXPECT_EQ(
        route_sql(
            "INSERT INTO users (id) VALUES (1), (2) ON CONFLICT (id) DO UPDATE SET name = 'x' "
            "WHERE users.name IS NULL RETURNING id")
            .kind,
        K::Error);
}

}  // namespace
}  // namespace sg::router
