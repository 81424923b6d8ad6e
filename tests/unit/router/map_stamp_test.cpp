// The map fence's judgement (router/map_stamp.h): which maps may route, given the shards' stamps.
#include "router/map_stamp.h"

#include <gtest/gtest.h>

#include "router_fixture.h"

namespace sg::router {
namespace {

ShardStampReading stamped(std::string shard, const ShardMap& m) {
    return {std::move(shard), true, stamp_of(m), ""};
}
ShardStampReading unstamped(std::string shard) {
    return {std::move(shard), true, std::nullopt, ""};
}
ShardStampReading down(std::string shard) {
    return {std::move(shard), false, std::nullopt, "refused"};
}

TEST(MapStamp, HashFollowsOwnershipNotVersionOrNameOrder) {
    auto a = ShardMap::make_default(4, {"s0", "s1"});
    auto b = *ShardMap::from_parts(
        7, 4, {"s1", "s0"}, std::vector<uint16_t>{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0},
        "m");
    EXPECT_EQ(content_hash(a), content_hash(b));  // same owners per bucket
    auto moved = *a.with_assignment(0, 0, 1);
    EXPECT_NE(content_hash(a), content_hash(moved));
    EXPECT_EQ(content_hash(a).size(), 16u);
    // A shard that owns nothing (just added) does not change the map's content.
    auto added = *ShardMap::from_parts(1, 4, {"s0", "s1", "s2"}, a.buckets(), "m");
    EXPECT_EQ(content_hash(a), content_hash(added));
}

TEST(MapStamp, AgreeingAndOlderStampsDoNotFence) {
    auto v1 = ShardMap::make_default(4, {"s0", "s1", "s2"});
    auto v2 = *v1.with_assignment(0, 1, 2);
    // s2 took part in the switch to v2; s0 did not and still says v1.
    auto v = judge_map(&v2, {stamped("s0", v1), stamped("s1", v2), stamped("s2", v2)}, "map.json");
    EXPECT_EQ(v.fence, "");
    ASSERT_TRUE(v.newest);
    EXPECT_EQ(v.newest->version, 2u);
    EXPECT_TRUE(judge_map(&v2, {unstamped("s0"), down("s1")}, "map.json").fence.empty());
}

TEST(MapStamp, AStaleMapIsFencedNamingBothVersions) {
    auto v1 = ShardMap::make_default(4, {"s0", "s1"});
    auto v2 = *v1.with_assignment(0, 1, 1);
    auto v = judge_map(&v1, {stamped("s0", v2), stamped("s1", v1)}, "/etc/map.json");
    EXPECT_NE(v.fence.find("stale shard map"), std::string::npos) << v.fence;
    EXPECT_NE(v.fence.find("version 1"), std::string::npos) << v.fence;
    EXPECT_NE(v.fence.find("version 2"), std::string::npos) << v.fence;
    EXPECT_NE(v.fence.find("\"s0\""), std::string::npos) << v.fence;
    EXPECT_NE(v.fence.find("RELOAD MAP"), std::string::npos) << v.fence;
}

TEST(MapStamp, AnotherMapUnderTheSameVersionIsFenced) {
    // The reproduction: a map created afresh (version 1 again) over a cluster whose
    // shards carry a different version 1.
    auto cluster = ShardMap::make_default(4, {"s0"});
    auto fresh = *ShardMap::from_parts(1, 4, {"s0", "s1"},
                                       ShardMap::make_default(4, {"s0", "s1"}).buckets(), "m");
    auto v = judge_map(&fresh, {stamped("s0", cluster), unstamped("s1")}, "map.json");
    EXPECT_NE(v.fence.find("mismatch"), std::string::npos) << v.fence;
    EXPECT_NE(v.fence.find(content_hash(cluster)), std::string::npos) << v.fence;
    EXPECT_NE(v.fence.find(content_hash(fresh)), std::string::npos) << v.fence;
}

TEST(MapStamp, NoMapFileIsFencedOnlyWhenAShardCarriesAMap) {
    auto v1 = ShardMap::make_default(4, {"s0", "s1"});
    EXPECT_TRUE(judge_map(nullptr, {unstamped("s0"), unstamped("s1")}, "map.json").fence.empty());
    auto v = judge_map(nullptr, {unstamped("s0"), stamped("s1", v1)}, "map.json");
    EXPECT_NE(v.fence.find("no shard map"), std::string::npos) << v.fence;
    EXPECT_NE(v.fence.find("version 1"), std::string::npos) << v.fence;
}

TEST(MapStamp, ShardsDisagreeingAboutOneVersionFence) {
    auto a = ShardMap::make_default(4, {"s0", "s1"});
    auto b = *a.with_assignment(0, 3, 0);
    auto b1 = *ShardMap::from_parts(1, 4, b.shard_names(), b.buckets(), "m");
    auto v = judge_map(&a, {stamped("s0", a), stamped("s1", b1)}, "map.json");
    EXPECT_NE(v.fence.find("forked"), std::string::npos) << v.fence;
}

TEST(MapStamp, AFencedMapRefusesWhatDependsOnOwnership) {
    auto catalog = testing::test_catalog();
    auto map = testing::test_map();
    map.set_fence("stale shard map: test");
    auto go = [&](const std::string& sql, RouterContext ctx = {}) {
        return route(analyze(sql, catalog), {}, map, ctx);
    };
    for (const char* sql : {"SELECT * FROM users WHERE id = 1", "SELECT * FROM users",
                            "INSERT INTO users (id) VALUES (1), (2)", "UPDATE users SET id = 1",
                            "SELECT * FROM countries", "INSERT INTO countries VALUES (1)"}) {
        Route r = go(sql);
        ASSERT_EQ(r.kind, Route::Kind::Error) << sql;
        EXPECT_EQ(r.error.sqlstate, "55000") << sql;
        EXPECT_EQ(r.error.message, "stale shard map: test") << sql;
    }
    // Nothing that does not depend on bucket ownership is refused.
    EXPECT_EQ(go("SELECT 1").kind, Route::Kind::Default);
    EXPECT_EQ(go("SELECT * FROM not_configured").kind, Route::Kind::Default);
    EXPECT_EQ(go("BEGIN").kind, Route::Kind::Session);
    RouterContext pinned;
    pinned.session_shard = "s1";
    EXPECT_EQ(go("SELECT * FROM users WHERE id = 1", pinned).kind, Route::Kind::Single);
    map.set_fence("");
    EXPECT_EQ(go("SELECT * FROM users WHERE id = 1").kind, Route::Kind::Single);
}

}  // namespace
}  // namespace sg::router
