// Table-driven routing rules of issue 4 (the rows: routing_cases.h): statements routed to one
// shard, several, all or the default one, and the router's other decisions.
#include "router/router.h"

#include <gtest/gtest.h>

#include "tests/unit/router/router_fixture.h"
#include "tests/unit/router/routing_cases.h"

namespace sg::router {
namespace {

using testing::binary_param;
using testing::Case;
using testing::case_name;
using testing::K;
using testing::null_param;
using testing::route_sql;
using testing::Routing;
using testing::text_param;

TEST_P(Routing, Decides) {
    const Case& c = GetParam();
    Route r = route_sql(c.sql, c.params);
    EXPECT_EQ(to_string(r.kind), std::string(to_string(c.kind)))
        << c.sql << "\n  error: " << r.error.message;
    if (c.kind == K::Error) {
        EXPECT_NE(r.error.message.find(c.error), std::string::npos) << r.error.message;
        if (!c.sqlstate.empty()) {
            EXPECT_EQ(r.error.sqlstate, c.sqlstate);
        }
    } else {
        EXPECT_EQ(r.shards, c.shards) << c.sql;
    }
}

// A statement too deep to analyse is refused with 54001 when it names a sharded table, and
// passed to the default shard otherwise (which applies its own stack limit), never a crash.
TEST(RoutingLimits, TooDeepStatements) {
    std::string sum;
    for (int i = 0; i < kMaxParseDepth + 100; ++i) sum += i ? "+1" : "1";
    Route sharded = route_sql("SELECT " + sum + " FROM users WHERE id = 1");
    EXPECT_EQ(sharded.kind, K::Error);
    EXPECT_EQ(sharded.error.sqlstate, "54001");
    Route tableless = route_sql("SELECT " + sum);
    EXPECT_EQ(tableless.kind, K::Default);
    // Just within the limit, every pass of the analysis runs (and routes by the key).
    std::string within;
    for (int i = 0; i < kMaxParseDepth - 10; ++i) within += i ? "+1" : "1";
    Route ok = route_sql("SELECT " + within + " FROM users WHERE id = 1");
    EXPECT_EQ(ok.kind, K::Single);
    EXPECT_EQ(ok.shards, std::vector<uint16_t>{2});
}

// The proxy routes without explanations (no text built on its hot path); the decision must be
// the same one.
TEST_P(Routing, DecidesTheSameWithoutExplaining) {
    const Case& c = GetParam();
    RouterContext quiet;
    quiet.explain = false;
    Route r = route_sql(c.sql, c.params, quiet);
    Route explained = route_sql(c.sql, c.params);
    EXPECT_EQ(r.kind, explained.kind) << c.sql;
    EXPECT_EQ(r.shards, explained.shards) << c.sql;
    EXPECT_EQ(r.any_shard, explained.any_shard) << c.sql;
    EXPECT_EQ(r.error.message, explained.error.message) << c.sql;
    ASSERT_EQ(r.keys.size(), explained.keys.size()) << c.sql;
    for (size_t i = 0; i < r.keys.size(); ++i) {
        EXPECT_EQ(r.keys[i].bucket, explained.keys[i].bucket) << c.sql;
        EXPECT_EQ(r.keys[i].shard, explained.keys[i].shard) << c.sql;
    }
    EXPECT_EQ(r.insert_rows.size(), explained.insert_rows.size()) << c.sql;
    EXPECT_TRUE(r.why.empty()) << c.sql << ": " << r.why.front();
}

const std::string kInt8_42("\x00\x00\x00\x00\x00\x00\x00\x2a", 8);
const std::string kInt4_3("\x00\x00\x00\x03", 4);
const std::string kUuidBytes("\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11",
                             16);
// array_send of int8[] {1, 4}: ndim 1, no nulls, oid 20, dim (2, lb 1), elements.
const std::string kInt8Array(
    "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x14\x00\x00\x00\x02\x00\x00\x00\x01"
    "\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x01"
    "\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x04",
    44);

const Case kOneShard[] = {
    {"const", "SELECT abalance FROM pgbench_accounts WHERE aid = 42", {}, K::Single, {0}},
    {"const_left", "SELECT * FROM pgbench_accounts WHERE 3 = aid", {}, K::Single, {1}},
    {"in_and",
     "SELECT * FROM pgbench_accounts WHERE bid = 7 AND (aid = 1 AND abalance > 0)",
     {},
     K::Single,
     {2}},
    {"quoted_cast", "SELECT * FROM pgbench_accounts WHERE aid = '42'::bigint", {}, K::Single, {0}},
    {"quoted", "SELECT * FROM pgbench_accounts WHERE aid = '2'", {}, K::Single, {3}},
    {"negative", "DELETE FROM pgbench_accounts WHERE aid = -1", {}, K::Single, {3}},
    {"alias", "SELECT a.abalance FROM pgbench_accounts a WHERE a.aid = 3", {}, K::Single, {1}},
    {"schema",
     "UPDATE public.pgbench_accounts SET abalance = 0 WHERE public.pgbench_accounts.aid = 4",
     {},
     K::Single,
     {0}},
    {"schema_config", "SELECT * FROM orders WHERE user_id = 1", {}, K::Single, {2}},
    {"param_text",
     "SELECT * FROM pgbench_accounts WHERE aid = $1",
     {text_param("42")},
     K::Single,
     {0}},
    {"param_binary8",
     "SELECT * FROM pgbench_accounts WHERE aid = $1",
     {binary_param(kInt8_42)},
     K::Single,
     {0}},
    {"param_binary4",
     "SELECT * FROM pgbench_accounts WHERE aid = $1::int4",
     {binary_param(kInt4_3)},
     K::Single,
     {1}},
    {"param_null", "SELECT * FROM pgbench_accounts WHERE aid = $1", {null_param()}, K::Single, {0}},
    {"text_key", "SELECT * FROM docs WHERE name = 'bob'", {}, K::Single, {1}},
    {"text_param", "SELECT * FROM docs WHERE name = $1", {text_param("alice")}, K::Single, {0}},
    {"uuid_key",
     "SELECT * FROM sessions WHERE sid = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
     {},
     K::Single,
     {3}},
    {"uuid_binary",
     "SELECT * FROM sessions WHERE sid = $1",
     {binary_param(kUuidBytes)},
     K::Single,
     {3}},
    {"insert_one",
     "INSERT INTO pgbench_accounts (aid, bid, abalance) VALUES (42, 1, 0)",
     {},
     K::Single,
     {0}},
    {"insert_param",
     "INSERT INTO pgbench_accounts (bid, aid) VALUES ($1, $2)",
     {text_param("9"), text_param("3")},
     K::Single,
     {1}},
    {"insert_null_key", "INSERT INTO pgbench_accounts (aid) VALUES (NULL)", {}, K::Single, {0}},
    {"on_conflict",
     "INSERT INTO pgbench_accounts (aid, abalance) VALUES (1, 5) ON CONFLICT (aid) DO UPDATE "
     "SET abalance = pgbench_accounts.abalance + excluded.abalance",
     {},
     K::Single,
     {2}},
    {"colocated_join",
     "SELECT * FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 2",
     {},
     K::Single,
     {3}},
    {"colocated_join_key_right",
     "SELECT * FROM users u, orders o WHERE o.user_id = u.id AND o.user_id = 3",
     {},
     K::Single,
     {1}},
    {"partial_join_links",
     "SELECT * FROM users JOIN pgbench_accounts ON true "
     "JOIN orders USING (id) WHERE users.id = 1 AND pgbench_accounts.aid = users.id",
     {},
     K::Error,
     {},
     "not on their shard keys"},
    {"reference_join",
     "SELECT * FROM users u JOIN countries c ON c.code = u.country WHERE u.id = 4",
     {},
     K::Single,
     {0}},
    {"or_with_non_key_arm_is_fanout",
     "UPDATE users SET x = 1 WHERE id = 4 OR name = 'x'",
     {},
     K::All,
     {0, 1, 2, 3}},
    {"or_of_keys_same_shard", "SELECT * FROM users WHERE id = 4 OR id = 5", {}, K::Single, {0}},
    // Subqueries and CTE bodies: restricted by their own shard key to the statement's shard, or
    // correlated with it on the shard key (4, 5 and 42 are on shard 0).
    {"cte_restricted",
     "WITH x AS (SELECT * FROM users WHERE id = 4) SELECT * FROM x",
     {},
     K::Single,
     {0}},
    {"insert_select_colocated_one_key",
     "INSERT INTO public.orders (user_id, amount) SELECT id, 1 FROM users WHERE id = 4 LIMIT 1",
     {},
     K::Single,
     {0}},
    {"subquery_same_shard",
     "SELECT * FROM users WHERE id = 4 AND name IN (SELECT note FROM public.orders WHERE user_id = "
     "5)",
     {},
     K::Single,
     {0}},
    {"subquery_in_from_restricted",
     "SELECT * FROM users u JOIN (SELECT user_id, sum(amount) AS s FROM public.orders WHERE "
     "user_id = 42 "
     "GROUP BY user_id) t ON t.user_id = u.id WHERE u.id = 4",
     {},
     K::Single,
     {0}},
    {"correlated_exists",
     "SELECT * FROM users u WHERE u.id = 4 AND EXISTS (SELECT 1 FROM public.orders o WHERE "
     "o.user_id = u.id)",
     {},
     K::Single,
     {0}},
    {"subquery_params",
     "SELECT * FROM users WHERE id = $1 AND EXISTS (SELECT 1 FROM public.orders WHERE user_id = "
     "$2)",
     {text_param("4"), text_param("5")},
     K::Single,
     {0}},
    {"only_subquery_matches_nothing",  // one shard answers, never every shard (the rows would
                                       // repeat)
     "SELECT * FROM countries WHERE code NOT IN (SELECT country FROM users WHERE id = ANY('{}'))",
     {},
     K::Single,
     {0}},
    {"only_subquery_reads_sharded",
     "SELECT * FROM countries WHERE code IN (SELECT country FROM users WHERE id = 42)",
     {},
     K::Single,
     {0}},
};

const Case kSeveralShards[] = {
    {"or_of_keys",
     "UPDATE pgbench_accounts SET abalance = 0 WHERE aid = 1 OR (aid = 2 AND abalance > 0) OR aid "
     "IN (4, 5)",
     {},
     K::Multi,
     {0, 2, 3}},
    {"in_list",
     "SELECT * FROM pgbench_accounts WHERE aid IN (1, 2, 4, 5)",
     {},
     K::Multi,
     {0, 2, 3}},
    {"in_same_shard", "SELECT * FROM pgbench_accounts WHERE aid IN (4, 5, 42)", {}, K::Single, {0}},
    {"in_params",
     "SELECT * FROM pgbench_accounts WHERE aid IN ($1, $2)",
     {text_param("1"), text_param("3")},
     K::Multi,
     {1, 2}},
    {"any_text_array",
     "SELECT * FROM pgbench_accounts WHERE aid = ANY($1)",
     {text_param("{1,3}")},
     K::Multi,
     {1, 2}},
    {"any_binary_array",
     "SELECT * FROM pgbench_accounts WHERE aid = ANY($1::bigint[])",
     {binary_param(kInt8Array)},
     K::Multi,
     {0, 2}},
    {"any_array_literal",
     "SELECT * FROM pgbench_accounts WHERE aid = ANY('{4,5}')",
     {},
     K::Single,
     {0}},
    {"any_array_expr",
     "SELECT * FROM pgbench_accounts WHERE aid = ANY(ARRAY[2, 3])",
     {},
     K::Multi,
     {1, 3}},
    {"in_with_order_by",
     "SELECT * FROM pgbench_accounts WHERE aid IN (1, 2) ORDER BY aid",
     {},
     K::Error,
     {},
     "ORDER BY",
     "0A000"},
};

const Case kAllShards[] = {
    // Binary COPY is split by tuple like text (router/copy_split_binary.h).
    {"copy_binary", "COPY users (id) FROM STDIN (FORMAT binary)", {}, K::All, {0, 1, 2, 3}},
    {"no_key", "SELECT * FROM pgbench_accounts WHERE abalance > 10", {}, K::All, {0, 1, 2, 3}},
    {"update_no_key", "UPDATE pgbench_accounts SET abalance = 0", {}, K::All, {0, 1, 2, 3}},
    {"delete_no_key", "DELETE FROM users WHERE name = 'x'", {}, K::All, {0, 1, 2, 3}},
    {"ddl_create", "CREATE TABLE users (id bigint primary key)", {}, K::All, {0, 1, 2, 3}},
    {"ddl_alter", "ALTER TABLE public.orders ADD COLUMN note text", {}, K::All, {0, 1, 2, 3}},
    {"ddl_drop", "DROP TABLE IF EXISTS users, countries", {}, K::All, {0, 1, 2, 3}},
    {"ddl_index", "CREATE INDEX ON orders (created_at)", {}, K::All, {0, 1, 2, 3}},
    {"ddl_truncate", "TRUNCATE countries", {}, K::All, {0, 1, 2, 3}},
    {"ddl_type", "CREATE TYPE mood AS ENUM ('ok')", {}, K::All, {0, 1, 2, 3}},
    {"reference_write", "INSERT INTO countries (code) VALUES ('fr')", {}, K::All, {0, 1, 2, 3}},
    {"reference_update", "UPDATE countries SET name = 'x'", {}, K::All, {0, 1, 2, 3}},
    {"fanout_ok_join",
     "SELECT * FROM users u JOIN countries c ON c.code = u.country",
     {},
     K::All,
     {0, 1, 2, 3}},
    // Co-located subqueries: each shard answers for its own rows.
    {"correlated_exists_fanout",
     "SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM public.orders o WHERE o.user_id = u.id AND "
     "o.amount > 5)",
     {},
     K::All,
     {0, 1, 2, 3}},
    {"correlated_not_exists_delete",
     "DELETE FROM users u WHERE NOT EXISTS (SELECT 1 FROM public.orders o WHERE u.id = o.user_id)",
     {},
     K::All,
     {0, 1, 2, 3}},
    {"correlated_scalar_subquery",
     "SELECT u.id, (SELECT sum(o.amount) FROM public.orders o WHERE o.user_id = u.id) FROM users u",
     {},
     K::All,
     {0, 1, 2, 3}},
    {"insert_select_colocated_all",
     "INSERT INTO public.orders (amount, user_id) SELECT sum(amount), user_id FROM public.orders o "
     "JOIN users u ON u.id = o.user_id GROUP BY user_id ORDER BY 1 RETURNING user_id",
     {},
     K::All,
     {0, 1, 2, 3}},
    {"insert_select_star_only_in_a_subquery",
     "INSERT INTO public.orders (user_id, amount) SELECT user_id, sum(amount) FROM public.orders o "
     "WHERE EXISTS (SELECT * FROM users u WHERE u.id = o.user_id) GROUP BY user_id",
     {},
     K::All,
     {0, 1, 2, 3}},
    {"key_semi_join",
     "SELECT * FROM users WHERE id IN (SELECT user_id FROM public.orders WHERE amount > 5)",
     {},
     K::All,
     {0, 1, 2, 3}},
};

const Case kDefaultShard[] = {
    {"unlisted", "SELECT * FROM logs WHERE id = 1", {}, K::Default, {0}},
    {"unlisted_write", "INSERT INTO logs VALUES (1)", {}, K::Default, {0}},
    {"no_table", "SELECT 1", {}, K::Default, {0}},
    {"reference_read", "SELECT * FROM countries ORDER BY code LIMIT 3", {}, K::Default, {0}},
    {"unlisted_ddl", "CREATE TABLE logs (id int)", {}, K::Default, {0}},
    {"unlisted_with_reference",
     "SELECT * FROM logs JOIN countries USING (code)",
     {},
     K::Default,
     {0}},
    {"cte_name_not_a_table",
     "WITH users AS (SELECT 1 AS id) SELECT * FROM users",
     {},
     K::Default,
     {0}},
    {"unparseable_unsharded", "SELEC * FROM logs", {}, K::Default, {0}},
};

INSTANTIATE_TEST_SUITE_P(OneShard, Routing, ::testing::ValuesIn(kOneShard), case_name);
INSTANTIATE_TEST_SUITE_P(SeveralShards, Routing, ::testing::ValuesIn(kSeveralShards), case_name);
INSTANTIATE_TEST_SUITE_P(AllShards, Routing, ::testing::ValuesIn(kAllShards), case_name);
INSTANTIATE_TEST_SUITE_P(DefaultShard, Routing, ::testing::ValuesIn(kDefaultShard), case_name);

TEST(Router, DefaultShardComesFromContext) {
    RouterContext ctx;
    ctx.default_shard = 2;
    EXPECT_EQ(route_sql("SELECT * FROM logs", {}, ctx).shards, std::vector<uint16_t>{2});
}

TEST(Router, ReferenceReadsMayUseAnyShard) {
    EXPECT_TRUE(route_sql("SELECT * FROM countries").any_shard);
    EXPECT_TRUE(route_sql("SELECT now()").any_shard);
    EXPECT_FALSE(route_sql("SELECT * FROM logs").any_shard);
    EXPECT_FALSE(route_sql("SELECT * FROM users WHERE id = 1").any_shard);
    EXPECT_TRUE(route_sql("FETCH 10 FROM c").any_shard);
    // In a multi-statement text, such statements go wherever the others go.
    Route keyed = route_sql("SELECT * FROM users WHERE id = 1");
    ASSERT_NE(keyed.shards, std::vector<uint16_t>{0});
    Route mixed = route_sql("SELECT 1; SELECT * FROM users WHERE id = 1; SELECT * FROM countries");
    EXPECT_EQ(mixed.shards, keyed.shards);
    EXPECT_FALSE(mixed.any_shard);
    EXPECT_TRUE(route_sql("SELECT 1; SELECT now()").any_shard);
}

TEST(Router, ReportsKeysAndBuckets) {
    Route r = route_sql("SELECT * FROM pgbench_accounts WHERE aid = 42");
    ASSERT_EQ(r.keys.size(), 1u);
    EXPECT_EQ(r.keys[0].text, "42");
    EXPECT_EQ(r.keys[0].bucket, 1992u);
    EXPECT_EQ(r.keys[0].shard, 0);
}

}  // namespace
}  // namespace sg::router
