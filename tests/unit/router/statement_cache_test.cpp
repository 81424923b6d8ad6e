#include "router/statement_cache.h"

#include <gtest/gtest.h>

#include "router/explain.h"
#include "tests/unit/router/router_fixture.h"

namespace sg::router {
namespace {

TEST(StatementCache, AnalysesOnceAndEvictsLeastRecentlyUsed) {
    StatementCache cache(2, testing::test_catalog());
    auto a1 = cache.get("SELECT * FROM users WHERE id = $1");
    auto a2 = cache.get("SELECT * FROM users WHERE id = $1");
    EXPECT_EQ(a1.get(), a2.get());
    EXPECT_EQ(cache.hits(), 1u);
    EXPECT_EQ(cache.misses(), 1u);
    cache.get("SELECT 2");
    cache.get("SELECT * FROM users WHERE id = $1");  // now most recent
    cache.get("SELECT 3");                           // evicts SELECT 2
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_FALSE(cache.find("SELECT 2"));
    EXPECT_TRUE(cache.find("SELECT * FROM users WHERE id = $1"));
    EXPECT_EQ(a1->kind, StatementKind::Select);  // evicted or not, an analysis stays valid
}

TEST(StatementCache, ResetDropsAnalysesOfTheOldCatalog) {
    StatementCache cache(8, testing::test_catalog());
    EXPECT_EQ(cache.get("SELECT * FROM logs")->placement, Placement::Unsharded);
    const uint64_t before = cache.generation();  // sessions remember analyses of a generation
    cache.reset(TableCatalog({TableConfig{"logs", TableKind::Sharded, "id", KeyType::BigInt}}));
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_NE(cache.generation(), before);
    EXPECT_EQ(cache.get("SELECT * FROM logs")->placement, Placement::Sharded);
}

TEST(Explain, TextAndJson) {
    Analysis a = analyze("SELECT * FROM pgbench_accounts WHERE aid = $1", testing::test_catalog());
    ShardMap map = testing::test_map();
    Params p = {testing::text_param("42")};
    Route r = route(a, p, map, {});
    std::string text = explain_route(a, r, map);
    EXPECT_NE(text.find("statement:  select"), std::string::npos) << text;
    EXPECT_NE(text.find("table:      pgbench_accounts (sharded, key aid bigint)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("key:        42 -> bucket 1992 -> s0"), std::string::npos) << text;
    EXPECT_NE(text.find("why:        WHERE aid = $1"), std::string::npos) << text;
    auto j = explain_route_json(a, r, map);
    EXPECT_EQ(j["route"], "single");
    EXPECT_EQ(j["keys"][0]["bucket"], 1992);
    EXPECT_EQ(j["shards"][0], "s0");

    Analysis bad = analyze("SELECT count(*) FROM users", testing::test_catalog());
    auto jb = explain_route_json(bad, route(bad, {}, map, {}), map);
    EXPECT_EQ(jb["route"], "error");
    EXPECT_EQ(jb["error"]["sqlstate"], "0A000");
}

}  // namespace
}  // namespace sg::router
