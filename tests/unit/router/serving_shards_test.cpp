// Routing when some configured shards own no buckets (a shard just added, or one drained):
// reference-table writes and fan-outs go to the shards that own buckets only, DDL still goes
// to every configured shard, reference reads stay on the default shard while it serves.
#include <gtest/gtest.h>

#include "router/router.h"
#include "tests/unit/router/router_fixture.h"

namespace sg::router {
namespace {

using testing::test_catalog;
using K = Route::Kind;

// Four shards configured; `empty` owns no bucket (every bucket b goes to the b-th of the
// others, round robin).
ShardMap map_without(uint16_t empty) {
    std::vector<uint16_t> owners;
    for (uint16_t s = 0; s < 4; ++s)
        if (s != empty) owners.push_back(s);
    std::vector<uint16_t> buckets(size_t{1} << 12);
    for (size_t b = 0; b < buckets.size(); ++b) buckets[b] = owners[b % owners.size()];
    auto m = ShardMap::from_parts(2, 12, {"s0", "s1", "s2", "s3"}, std::move(buckets), "mem");
    EXPECT_TRUE(m) << m.error().message;
    return *m;
}

struct Case {
    const char* name;
    std::string sql;
    uint16_t empty_shard;
    K kind;
    std::vector<uint16_t> shards;
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.name << ": " << c.sql;
}

class ServingShards : public ::testing::TestWithParam<Case> {};

TEST_P(ServingShards, Decides) {
    const Case& c = GetParam();
    static const TableCatalog catalog = test_catalog();
    ShardMap map = map_without(c.empty_shard);
    Route r = route(analyze(c.sql, catalog), {}, map, RouterContext{});
    EXPECT_EQ(to_string(r.kind), std::string(to_string(c.kind))) << r.error.message;
    EXPECT_EQ(r.shards, c.shards);
}

const Case kCases[] = {
    // s3 was just added: it owns nothing yet.
    {"ref_insert", "INSERT INTO countries (code) VALUES ('fr')", 3, K::Multi, {0, 1, 2}},
    {"ref_update", "UPDATE countries SET name = 'x' WHERE code = 'fr'", 3, K::Multi, {0, 1, 2}},
    {"ref_delete", "DELETE FROM countries WHERE code = 'fr'", 3, K::Multi, {0, 1, 2}},
    {"ref_upsert",
     "INSERT INTO countries (code) VALUES ('fr') ON CONFLICT (code) DO NOTHING",
     3,
     K::Multi,
     {0, 1, 2}},
    {"ref_copy_in", "COPY countries (code) FROM STDIN", 3, K::Multi, {0, 1, 2}},
    {"ref_read", "SELECT * FROM countries", 3, K::Default, {0}},
    {"ref_copy_out", "COPY countries TO STDOUT", 3, K::Default, {0}},
    {"ddl_create", "CREATE TABLE users (id bigint PRIMARY KEY)", 3, K::All, {0, 1, 2, 3}},
    {"ddl_type", "CREATE TYPE mood AS ENUM ('ok')", 3, K::All, {0, 1, 2, 3}},
    {"ddl_alter_ref", "ALTER TABLE countries ADD COLUMN iso text", 3, K::All, {0, 1, 2, 3}},
    {"ddl_alter_sharded", "ALTER TABLE users ADD COLUMN x int", 3, K::All, {0, 1, 2, 3}},
    {"ddl_truncate_ref", "TRUNCATE countries", 3, K::All, {0, 1, 2, 3}},
    {"sharded_no_key", "SELECT * FROM users WHERE name = 'x'", 3, K::Multi, {0, 1, 2}},
    {"sharded_update_no_key", "UPDATE users SET name = 'x'", 3, K::Multi, {0, 1, 2}},
    {"sharded_join_ref",
     "SELECT * FROM users u JOIN countries c ON c.code = u.country",
     3,
     K::Multi,
     {0, 1, 2}},
    {"unlisted", "SELECT * FROM logs", 3, K::Default, {0}},
    // s1 drained: writes skip it.
    {"drained_ref_insert", "INSERT INTO countries (code) VALUES ('fr')", 1, K::Multi, {0, 2, 3}},
    {"drained_ddl", "CREATE INDEX ON users (name)", 1, K::All, {0, 1, 2, 3}},
    // The default shard s0 drained: its reference copy is no longer kept current.
    {"drained_default_ref_read", "SELECT * FROM countries", 0, K::Default, {1}},
    {"drained_default_unlisted", "SELECT * FROM logs", 0, K::Default, {0}},
};

INSTANTIATE_TEST_SUITE_P(Router, ServingShards, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ServingShardsAll, EveryShardServingIsKindAll) {
    static const TableCatalog catalog = test_catalog();
    ShardMap map = testing::test_map();
    Route r = route(analyze("INSERT INTO countries (code) VALUES ('fr')", catalog), {}, map, {});
    EXPECT_EQ(r.kind, K::All);
    EXPECT_EQ(r.shards, (std::vector<uint16_t>{0, 1, 2, 3}));
}

TEST(ServingShardsAll, OneServingShardIsSingle) {
    static const TableCatalog catalog = test_catalog();
    auto map = ShardMap::from_parts(2, 4, {"s0", "s1"}, std::vector<uint16_t>(16, 1), "mem");
    ASSERT_TRUE(map);
    Route w = route(analyze("UPDATE countries SET name = 'y'", catalog), {}, *map, {});
    EXPECT_EQ(w.kind, K::Single);
    EXPECT_EQ(w.shards, (std::vector<uint16_t>{1}));
    Route f = route(analyze("SELECT * FROM users WHERE name = 'x'", catalog), {}, *map, {});
    EXPECT_EQ(f.kind, K::Single);
    EXPECT_EQ(f.shards, (std::vector<uint16_t>{1}));
}

}  // namespace
}  // namespace sg::router
