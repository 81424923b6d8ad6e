// Issue 16, classes the differential fuzzer found (tests/differential/corpus.jsonl holds their
// end-to-end cases): each routed as PostgreSQL's semantics place its rows, or refused.
#include <gtest/gtest.h>

#include "router/analyzer.h"
#include "tests/unit/router/router_fixture.h"

namespace sg::router {
namespace {

using testing::binary_param;
using testing::route_sql;
using testing::test_catalog;
using testing::text_param;
using K = Route::Kind;

Param declared(std::string_view v, uint32_t oid, ParamFormat f = ParamFormat::Text) {
    return Param{false, f, v, oid};
}

std::string be32(int32_t v) {
    std::string out(4, '\0');
    for (int i = 0; i < 4; ++i) out[size_t(i)] = char(uint32_t(v) >> (24 - 8 * i));
    return out;
}

TEST(FuzzFound, TextParameterCastToTheKeyTypeIsReadAsText) {
    // `id = $1::integer` with $1 declared text: the cast reads the text, in either format (a
    // text's binary form is its bytes), not as the key's 2/4/8-byte binary form.
    const std::string sql = "SELECT * FROM users WHERE id = $1::bigint";
    const auto eleven = route_sql("SELECT * FROM users WHERE id = 11").shards;
    for (auto f : {ParamFormat::Text, ParamFormat::Binary}) {
        Route r = route_sql(sql, {declared("11", 25, f)});
        ASSERT_EQ(r.kind, K::Single) << r.error.message;
        EXPECT_EQ(r.shards, eleven);
        EXPECT_EQ(route_sql(sql, {declared("-38", 1043, f)}).shards,
                  route_sql("SELECT * FROM users WHERE id = -38").shards);
    }
    // Left to the server, the parameter takes the cast's type: binary int8/int4 as such.
    EXPECT_EQ(route_sql(sql, {binary_param(be32(11))}).shards, eleven);
    // The cast's own semantics: a numeric rounds, a float rints; text that is no integer fails.
    EXPECT_EQ(route_sql(sql, {declared("10.5", 1700)}).shards, eleven);
    EXPECT_EQ(route_sql(sql, {declared("11.4", 701)}).shards, eleven);
    Route bad = route_sql(sql, {declared("1.5", 25)});
    ASSERT_EQ(bad.kind, K::Error);
    EXPECT_EQ(bad.error.sqlstate, "22P02");
    // A cast wider than the key: out of the key type's range matches nothing (no error).
    Route wide = route_sql("SELECT * FROM tiny WHERE k = $1::bigint", {declared("70000", 25)});
    EXPECT_EQ(wide.kind, K::Single) << wide.error.message;
    EXPECT_TRUE(wide.keys.empty());
    // Without a cast, a text type in binary is still its text.
    EXPECT_EQ(route_sql("SELECT * FROM docs WHERE name = $1",
                        {declared("alice", 25, ParamFormat::Binary)})
                  .shards,
              route_sql("SELECT * FROM docs WHERE name = 'alice'").shards);
    // An int4 cast to text is its output text, not its bytes: the shards decide.
    EXPECT_EQ(route_sql("SELECT * FROM docs WHERE name = $1::text",
                        {declared(be32(5), 23, ParamFormat::Binary)})
                  .kind,
              K::All);
    // Chains of casts are left to the shards.
    EXPECT_EQ(route_sql("SELECT * FROM users WHERE id = $1::int::bigint", {text_param("5")}).kind,
              K::All);
}

TEST(FuzzFound, CommentOnAnUnlistedTableGoesWhereItLives) {
    EXPECT_EQ(route_sql("COMMENT ON TABLE unlisted IS 'x'").kind, K::Default);
    EXPECT_EQ(route_sql("COMMENT ON COLUMN unlisted.a IS 'x'").kind, K::Default);
    EXPECT_EQ(route_sql("COMMENT ON TABLE users IS 'x'").kind, K::All);
    EXPECT_EQ(route_sql("COMMENT ON COLUMN public.orders.amount IS 'x'").kind, K::All);
    EXPECT_EQ(route_sql("COMMENT ON TYPE mood IS 'x'").kind, K::All);  // schema objects: everywhere
}

TEST(FuzzFound, UniqueConstraintsWithoutTheShardKeyAreRefused) {
    const std::pair<const char*, const char*> refused[] = {
        {"CREATE TABLE users (id bigint, email text PRIMARY KEY)", "PRIMARY KEY constraint"},
        {"CREATE TABLE users (id bigint, email text UNIQUE)", "UNIQUE constraint"},
        {"CREATE TABLE users (id bigint, email text, CONSTRAINT u_email UNIQUE (email))",
         "\"u_email\""},
        {"CREATE TABLE users (id bigint, cid int, PRIMARY KEY (cid))", "PRIMARY KEY"},
        {"ALTER TABLE users ADD CONSTRAINT u_name UNIQUE (name)", "\"u_name\""},
        {"ALTER TABLE users ADD PRIMARY KEY (name)", "PRIMARY KEY"},
        {"ALTER TABLE users ADD COLUMN email text UNIQUE", "UNIQUE"},
        {"CREATE UNIQUE INDEX users_name ON users (name)", "\"users_name\""},
        {"CREATE UNIQUE INDEX ON users ((id + 1))",
         "unique index"},  // an expression is not the key
    };
    for (const auto& [sql, construct] : refused) {
        Route r = route_sql(sql);
        ASSERT_EQ(r.kind, K::Error) << sql;
        EXPECT_EQ(r.error.sqlstate, "0A000") << sql;
        EXPECT_NE(r.error.message.find(construct), std::string::npos)
            << sql << ": " << r.error.message;
        EXPECT_NE(r.error.message.find("shard key \"id\""), std::string::npos) << r.error.message;
    }
    for (const char* sql :
         {"CREATE TABLE users (id bigint PRIMARY KEY, email text)",
          "CREATE TABLE users (id bigint, cid int, PRIMARY KEY (cid, id), UNIQUE (id))",
          "ALTER TABLE users ADD CONSTRAINT u UNIQUE (name, id)",
          "CREATE UNIQUE INDEX ON users (name, id)",
          "CREATE UNIQUE INDEX ON users (lower(name), id)", "CREATE INDEX ON users (name)",
          "CREATE TABLE countries (code text, name text UNIQUE)",  // reference: every row
                                                                   // everywhere
          "CREATE TABLE unlisted (a int PRIMARY KEY, b int UNIQUE)"}) {
        Route r = route_sql(sql);
        EXPECT_NE(r.kind, K::Error) << sql << ": " << r.error.message;
    }
}

TEST(FuzzFound, QualifiedOrderByNamesTheTablesColumn) {
    // `SELECT c.id ... ORDER BY a.id`: the output column id is c's; the merge must sort by a.id.
    Analysis a = analyze(
        "SELECT o.id FROM users u LEFT JOIN public.orders o ON o.user_id = u.id "
        "ORDER BY u.id, o.amount",
        test_catalog());
    ASSERT_TRUE(a.merge) << (a.refusal ? a.refusal->message : "");
    ASSERT_EQ(a.merge->order.size(), 2u);
    EXPECT_TRUE(a.merge->order[0].name.empty())
        << "sorted by output column " << a.merge->order[0].name;
    EXPECT_NE(a.merge->order[0].hidden, 0u);
    // The same name selected from the same table (or unqualified) is the output column.
    for (const char* sql : {"SELECT u.id, u.name FROM users u ORDER BY u.id",
                            "SELECT id FROM users ORDER BY users.id"}) {
        Analysis same = analyze(sql, test_catalog());
        ASSERT_TRUE(same.merge) << sql;
        EXPECT_EQ(same.merge->order[0].name, "id") << sql;
    }
    // Aggregates sort by output columns only: a qualified name of another table is refused.
    Analysis agg = analyze(
        "SELECT o.id, count(*) FROM users u JOIN public.orders o ON o.user_id = u.id "
        "GROUP BY o.id ORDER BY u.id",
        test_catalog());
    EXPECT_FALSE(agg.merge && !agg.merge->order.empty() && agg.merge->order[0].name == "id");
}

TEST(FuzzFound, OneColumnSelectedTwiceSortsByItsFirstOutput) {
    // Section 4: `SELECT id, id ... ORDER BY id`, one column under one name twice.
    Analysis a = analyze("SELECT id, id, name FROM users ORDER BY id DESC", test_catalog());
    ASSERT_TRUE(a.merge) << (a.refusal ? a.refusal->message : "");
    ASSERT_EQ(a.merge->order.size(), 1u);
    EXPECT_EQ(a.merge->order[0].position, 1u);
    EXPECT_TRUE(a.merge->order[0].descending);
    // Different columns under one name are ambiguous (PostgreSQL fails): not resolved here.
    Analysis two = analyze("SELECT u.id, v.id FROM users u JOIN users v ON v.id = u.id ORDER BY id",
                           test_catalog());
    EXPECT_FALSE(two.merge && !two.merge->order.empty() && two.merge->order[0].position != 0);
    Analysis aliased = analyze("SELECT id, name AS id FROM users ORDER BY id", test_catalog());
    EXPECT_FALSE(aliased.merge && !aliased.merge->order.empty() &&
                 aliased.merge->order[0].position != 0);
}

}  // namespace
}  // namespace sg::router
