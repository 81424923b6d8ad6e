// Table-driven routing rules of issue 4 (the rows: routing_cases.h): session statements,
// shardgate.shard and the routing hints, COPY, EXPLAIN and cursors.
#include "router/router.h"

#include <gtest/gtest.h>

#include "tests/unit/router/router_fixture.h"
#include "tests/unit/router/routing_cases.h"

namespace sg::router {
namespace {

using testing::Case;
using testing::case_name;
using testing::K;
using testing::route_sql;
using testing::Routing;

const Case kSessionAndHints[] = {
    {"begin", "BEGIN", {}, K::Session, {}},
    {"commit", "COMMIT", {}, K::Session, {}},
    {"savepoint", "SAVEPOINT a", {}, K::Session, {}},
    {"set", "SET statement_timeout = 0", {}, K::Session, {}},
    {"show", "SHOW search_path", {}, K::Session, {}},
    {"set_shard", "SET shardgate.shard = 's2'", {}, K::Local, {2}},
    {"set_shard_to", "SET shardgate.shard TO s3", {}, K::Local, {3}},
    {"set_unknown_shard", "SET shardgate.shard = 's9'", {}, K::Error, {}, "unknown shard \"s9\""},
    {"reset_shard", "RESET shardgate.shard", {}, K::Local, {}},
    {"show_shard", "SHOW shardgate.shard", {}, K::Local, {}},
    {"shard_hint", "/* shardgate.shard=s2 */ SELECT count(*) FROM users", {}, K::Single, {2}},
    {"key_hint", "SELECT count(*) FROM users /* shardgate.key=3 */", {}, K::Single, {1}},
    {"hint_unparseable", "/* shardgate.key=42 */ SELEC * FROM users", {}, K::Single, {0}},
    {"hint_bad_shard", "/* shardgate.shard=zz */ SELECT 1", {}, K::Error, {}, "unknown shard"},
    // Manual routing never stores a row where its key does not belong (1 -> s2, 4 -> s0).
    {"hint_insert_elsewhere",
     "/* shardgate.shard=s0 */ INSERT INTO users (id) VALUES (1)",
     {},
     K::Error,
     {},
     "belongs on shard \"s2\""},
    {"hint_insert_its_shard",
     "/* shardgate.shard=s2 */ INSERT INTO users (id) VALUES (1)",
     {},
     K::Single,
     {2}},
    {"key_hint_insert_elsewhere",
     "/* shardgate.key=4 */ INSERT INTO users (id) VALUES (1)",
     {},
     K::Error,
     {},
     "belongs on shard \"s2\""},
    {"multi_same_shard",
     "BEGIN; UPDATE users SET n = 1 WHERE id = 4; SELECT * FROM logs; COMMIT",
     {},
     K::Single,
     {0}},
    {"copy_from_stdin",
     "COPY users (name, id) FROM STDIN WITH (FORMAT csv)",
     {},
     K::All,
     {0, 1, 2, 3}},
    {"copy_to_stdout", "COPY users TO STDOUT", {}, K::All, {0, 1, 2, 3}},
    {"copy_reference", "COPY countries (code) FROM STDIN", {}, K::All, {0, 1, 2, 3}},
    {"explain", "EXPLAIN SELECT * FROM users WHERE id = 1", {}, K::Single, {2}},
    {"explain_fanout", "EXPLAIN SELECT * FROM users", {}, K::Error, {}, "EXPLAIN"},
    // The wrapper is named before what it wraps: without the ORDER BY it is still refused.
    {"declare_ordered_fanout",
     "DECLARE c CURSOR FOR SELECT * FROM users ORDER BY id",
     {},
     K::Error,
     {},
     "uses DECLARE CURSOR of ORDER BY"},
};

INSTANTIATE_TEST_SUITE_P(SessionAndHints, Routing, ::testing::ValuesIn(kSessionAndHints),
                         case_name);

TEST(Router, SessionShardOverridesAnalysis) {
    RouterContext ctx;
    ctx.session_shard = "s3";
    Route r = route_sql("SELECT count(*) FROM users", {}, ctx);
    ASSERT_EQ(r.kind, Route::Kind::Single);
    EXPECT_EQ(r.shards, std::vector<uint16_t>{3});
    // Transaction control still belongs to the session, not a shard.
    EXPECT_EQ(route_sql("BEGIN", {}, ctx).kind, Route::Kind::Session);
    // A row is never stored on a shard its key does not belong to (1 -> s2, 3 -> s1, 2 -> s3).
    Route misplaced = route_sql("INSERT INTO users (id) VALUES (2), (1)", {}, ctx);
    ASSERT_EQ(misplaced.kind, Route::Kind::Error);
    EXPECT_NE(misplaced.error.message.find("belongs on shard \"s2\""), std::string::npos)
        << misplaced.error.message;
    EXPECT_EQ(route_sql("INSERT INTO users (id) VALUES (2)", {}, ctx).shards,
              std::vector<uint16_t>{3});
}

}  // namespace
}  // namespace sg::router
