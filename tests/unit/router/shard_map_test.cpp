#include "router/shard_map.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sg::router {
namespace {

namespace fs = std::filesystem;

class ShardMapFiles : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("sg_shard_map_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const char* name) const { return (dir_ / name).string(); }
    void write(const std::string& p, const std::string& text) { std::ofstream(p) << text; }

    fs::path dir_;
};

Config two_shard_config(const std::string& source) {
    Config c;
    c.source = source;
    c.sharding.bucket_bits = 4;
    c.shards.resize(2);
    c.shards[0].name = "s0";
    c.shards[1].name = "s1";
    return c;
}

TEST(ShardMap, DefaultLayoutIsBucketModN) {
    auto m = ShardMap::make_default(12, {"a", "b", "c"});
    EXPECT_EQ(m.bucket_count(), 4096u);
    EXPECT_EQ(m.version(), 1u);
    for (uint32_t b = 0; b < m.bucket_count(); ++b) EXPECT_EQ(m.shard_of_bucket(b), b % 3);
}

TEST(ShardMap, RangesCompressRuns) {
    auto m = ShardMap::make_default(2, {"a", "b"});
    EXPECT_EQ(m.ranges(),
              (std::vector<ShardMap::Range>{{0, 0, 0}, {1, 1, 1}, {2, 2, 0}, {3, 3, 1}}));
    auto moved = m.with_assignment(1, 2, 0);
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->version(), 2u);
    EXPECT_EQ(moved->ranges(), (std::vector<ShardMap::Range>{{0, 2, 0}, {3, 3, 1}}));
    EXPECT_FALSE(m.with_assignment(0, 4, 0));
    EXPECT_FALSE(m.with_assignment(0, 1, 2));
}

TEST(ShardMap, SplitKeepsEveryKeyOnItsShard) {
    auto m = ShardMap::make_default(3, {"a", "b", "c"});
    auto split = m.split_buckets();
    EXPECT_EQ(split.bucket_bits(), 4);
    EXPECT_EQ(split.version(), m.version() + 1);
    for (uint32_t b = 0; b < m.bucket_count(); ++b) {
        EXPECT_EQ(split.shard_of_bucket(b), m.shard_of_bucket(b));
        EXPECT_EQ(split.shard_of_bucket(b + m.bucket_count()), m.shard_of_bucket(b));
    }
    // Any hash: its shard under the split map equals its shard under the old one.
    for (uint64_t h : {0ULL, 7ULL, 8ULL, 0xd5a6f8c838df27c8ULL, ~0ULL}) {
        EXPECT_EQ(split.shard_of_bucket(h & 15), m.shard_of_bucket(h & 7));
    }
}

TEST(ShardMap, ServingShardsAreTheOwnersOfSomeBucket) {
    auto m = ShardMap::make_default(3, {"a", "b", "c"});
    EXPECT_EQ(m.serving_shards(), (std::vector<uint16_t>{0, 1, 2}));
    // A shard listed but owning nothing (just added): not serving, until it gets a bucket.
    auto added = ShardMap::from_parts(2, 3, {"a", "b", "c", "d"}, m.buckets(), "mem");
    ASSERT_TRUE(added) << added.error().message;
    EXPECT_EQ(added->serving_shards(), (std::vector<uint16_t>{0, 1, 2}));
    EXPECT_FALSE(added->owns_any(3));
    EXPECT_TRUE(added->owns_any(0));
    EXPECT_FALSE(added->owns_any(9));  // unknown index
    auto first = added->with_assignment(5, 5, 3);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->owns_any(3));
    EXPECT_EQ(first->serving_shards(), (std::vector<uint16_t>{0, 1, 2, 3}));
    // Drained: every bucket of "b" given away.
    auto drained = first->with_assignment(0, 7, 0);
    ASSERT_TRUE(drained);
    EXPECT_EQ(drained->serving_shards(), (std::vector<uint16_t>{0}));
    EXPECT_EQ(drained->split_buckets().serving_shards(), (std::vector<uint16_t>{0}));
    // More shards than buckets: the default layout leaves the last ones empty.
    EXPECT_EQ(ShardMap::make_default(1, {"a", "b", "c"}).serving_shards(),
              (std::vector<uint16_t>{0, 1}));
}

TEST(ShardMap, JsonRoundTrip) {
    auto m = *ShardMap::make_default(3, {"s0", "s1"}).with_assignment(2, 5, 1);
    auto back = ShardMap::from_json(m.to_json(), "mem");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, m);
}

TEST(ShardMap, BadJsonNamesTheFileAndField) {
    struct Case {
        const char* json;
        const char* expect;
    } cases[] = {
        {"{", "f.json: not valid JSON"},
        {"[]", "f.json: expected a JSON object"},
        {R"({"bucket_bits":1,"shards":["a"],"map":[0,0]})", "f.json: version: missing"},
        {R"({"version":-1,"bucket_bits":1,"shards":["a"],"map":[0,0]})", "f.json: version:"},
        {R"({"version":1,"bucket_bits":0,"shards":["a"],"map":[0]})", "f.json: bucket_bits:"},
        {R"({"version":1,"bucket_bits":1,"shards":[],"map":[0,0]})", "f.json: shards:"},
        {R"({"version":1,"bucket_bits":1,"shards":["a","a"],"map":[0,0]})", "duplicate shard"},
        {R"({"version":1,"bucket_bits":1,"shards":["a"],"map":[0]})", "f.json: map: has 1"},
        {R"({"version":1,"bucket_bits":1,"shards":["a"],"map":[0,1]})", "f.json: map[1]:"},
        {R"({"version":1,"bucket_bits":1,"shards":["a"],"map":[0,"x"]})", "f.json: map[1]:"},
    };
    for (const auto& c : cases) {
        auto m = ShardMap::from_json(c.json, "f.json");
        ASSERT_FALSE(m) << c.json;
        EXPECT_NE(m.error().message.find(c.expect), std::string::npos)
            << c.json << " -> " << m.error().message;
    }
}

TEST_F(ShardMapFiles, SaveLoadRoundTripLeavesNoTemporary) {
    auto m = ShardMap::make_default(5, {"x", "y", "z"}, 9);
    ASSERT_TRUE(save_shard_map(m, path("map.json")));
    EXPECT_FALSE(fs::exists(path("map.json.tmp")));
    auto back = load_shard_map(path("map.json"));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, m);
    // Replacing keeps the file whole.
    auto next = *m.with_assignment(0, 31, 2);
    ASSERT_TRUE(save_shard_map(next, path("map.json")));
    EXPECT_EQ(*load_shard_map(path("map.json")), next);
}

TEST_F(ShardMapFiles, AMissingFileIsAnErrorNeverADefault) {
    // A map invented beside the cluster's routes rows wrongly (issue 22): loading never
    // creates one; default_map() is only what `shardgate init` writes.
    Config cfg = two_shard_config(path("shardgate.toml"));
    auto missing = load_configured_map(path("map.json"), cfg);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos);
    EXPECT_NE(missing.error().message.find("shardgate init"), std::string::npos);
    EXPECT_FALSE(fs::exists(path("map.json")));
    auto d = default_map(cfg);
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->bucket_count(), 16u);
    EXPECT_EQ(d->shard_of_bucket(3), 1);
    EXPECT_EQ(d->version(), 1u);
}

TEST_F(ShardMapFiles, LoadReindexesToConfigOrder) {
    Config cfg = two_shard_config(path("shardgate.toml"));
    auto file = ShardMap::make_default(4, {"s1"}, 3);  // every bucket on s1
    ASSERT_TRUE(save_shard_map(file, path("map.json")));
    auto m = load_configured_map(path("map.json"), cfg);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->shard_names(), (std::vector<std::string>{"s0", "s1"}));
    EXPECT_EQ(m->shard_of_bucket(0), 1);
    EXPECT_EQ(m->version(), 3u);
}

TEST_F(ShardMapFiles, AShardTheFileDoesNotNameIsNotServing) {
    Config cfg = two_shard_config(path("shardgate.toml"));
    ASSERT_TRUE(save_shard_map(ShardMap::make_default(4, {"s0"}), path("map.json")));
    auto m = load_configured_map(path("map.json"), cfg);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->serving_shards(), (std::vector<uint16_t>{0}));
    EXPECT_FALSE(m->owns_any(1));
}

TEST_F(ShardMapFiles, BadFilesAreErrorsNamingTheFile) {
    Config cfg = two_shard_config(path("shardgate.toml"));
    write(path("garbage.json"), "not json");
    auto g = load_configured_map(path("garbage.json"), cfg);
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().message, path("garbage.json") + ": not valid JSON");

    ASSERT_TRUE(save_shard_map(ShardMap::make_default(4, {"s0", "s9"}), path("unknown.json")));
    auto u = load_configured_map(path("unknown.json"), cfg);
    ASSERT_FALSE(u);
    EXPECT_NE(u.error().message.find("\"s9\" is not a [[shards]] entry"), std::string::npos);

    ASSERT_TRUE(save_shard_map(ShardMap::make_default(5, {"s0", "s1"}), path("bits.json")));
    auto b = load_configured_map(path("bits.json"), cfg);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message.find("bucket_bits 5 differs"), std::string::npos);

    auto missing = load_shard_map(path("nope.json"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message.rfind(path("nope.json") + ": cannot open", 0), 0u);
}

}  // namespace
}  // namespace sg::router
