// A journal resumes only against the map and shards it was written for (issue 22).
#include "rebalance/journal_binding.h"

#include <gtest/gtest.h>

#include "router/map_stamp.h"

namespace sg::rebalance {
namespace {

using router::ShardMap;

// The reproduction: a plan from a 1-shard map (every bucket on s0) to 5 shards.
struct Fixture {
    ShardMap start = *ShardMap::from_parts(1, 4, {"s0", "s1", "s2", "s3", "s4"},
                                           std::vector<uint16_t>(16, 0), "m");
    Journal j;
    Fixture() {
        j.start_version = 1;
        j.bucket_bits = 4;
        j.start_hash = router::content_hash(start);
        j.system_ids = {{"s0", "7001"}, {"s1", "7002"}};
        for (uint16_t t = 1; t <= 4; ++t) {
            MoveState m{"s0", "s" + std::to_string(t), {}, {}, Phase::Copied};
            for (uint32_t b = 0; b < 16; ++b)
                if (b % 5 == t) m.buckets.push_back(b);
            j.moves.push_back(m);
        }
    }
};

TEST(JournalBinding, TheStartMapAndItsSwitchedDescendantsMatch) {
    Fixture f;
    const std::map<std::string, std::string> ids = {{"s0", "7001"}, {"s1", "7002"}};
    EXPECT_TRUE(check_binding(f.j, f.start, ids, "j.json"));
    // After some switches (recorded or a decided pending one), the current map still derives
    // from the start map.
    auto moved = *f.start.with_assignment(1, 1, 1);
    moved = *moved.with_assignment(6, 6, 1);
    moved = *moved.with_assignment(4, 4, 4);
    EXPECT_EQ(start_hash_from(f.j, moved), f.j.start_hash);
    EXPECT_TRUE(check_binding(f.j, moved, ids, "j.json"));
}

TEST(JournalBinding, AMapCreatedAfreshWithTheSameVersionIsRefused) {
    Fixture f;
    // Version 1 again, for 4 shards: b mod 4.
    auto fresh =
        *ShardMap::from_parts(1, 4, {"s0", "s1", "s2", "s3", "s4"},
                              ShardMap::make_default(4, {"s0", "s1", "s2", "s3"}).buckets(), "m");
    auto st = check_binding(f.j, fresh, {}, "/var/lib/sg/rebalance.json");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().sqlstate, "55000");
    const auto& msg = st.error().message;
    EXPECT_NE(msg.find("/var/lib/sg/rebalance.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find(f.j.start_hash), std::string::npos) << msg;
    EXPECT_NE(msg.find(router::content_hash(fresh)), std::string::npos) << msg;
    EXPECT_NE(msg.find("Not resumed"), std::string::npos) << msg;
    // A bucket moved somewhere the plan never sends it breaks the lineage too.
    auto elsewhere = *f.start.with_assignment(1, 1, 2);
    EXPECT_FALSE(check_binding(f.j, elsewhere, {}, "j.json"));
}

TEST(JournalBinding, AnotherServerUnderAShardsNameIsRefused) {
    Fixture f;
    auto st = check_binding(f.j, f.start, {{"s0", "7001"}, {"s1", "9999"}}, "j.json");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("7002"), std::string::npos);
    EXPECT_NE(st.error().message.find("9999"), std::string::npos);
    // An identifier that could not be read is not a mismatch.
    EXPECT_TRUE(check_binding(f.j, f.start, {{"s0", "7001"}}, "j.json"));
}

TEST(JournalBinding, TheBindingSurvivesTheJournalFile) {
    Fixture f;
    auto back = journal_from_json(journal_to_json(f.j), "j.json");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->start_hash, f.j.start_hash);
    EXPECT_EQ(back->system_ids, f.j.system_ids);
}

}  // namespace
}  // namespace sg::rebalance
