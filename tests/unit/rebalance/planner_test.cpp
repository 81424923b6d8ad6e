// The planner by table (rebalance.md, invariant 1): minimal movement, every shard within one
// bucket of its share, drains spread evenly, weights respected.
#include "rebalance/planner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace sg::rebalance {
namespace {

std::vector<std::string> names(int n) {
    std::vector<std::string> v;
    for (int i = 0; i < n; ++i) v.push_back("s" + std::to_string(i));
    return v;
}

// The default layout over `from` shards, with `to` shards configured (the new ones empty).
router::ShardMap grown(int bits, int from, int to) {
    auto base = router::ShardMap::make_default(bits, names(from));
    return *router::ShardMap::from_parts(base.version(), bits, names(to), base.buckets(), "t");
}

// Checks the invariants every plan must satisfy and returns the resulting map.
router::ShardMap check_plan(const router::ShardMap& m, const Plan& p,
                            const std::vector<double>& weights) {
    std::set<uint32_t> seen;
    for (const auto& mv : p.moves) {
        EXPECT_NE(mv.source, mv.target);
        for (uint32_t b : mv.buckets) {
            EXPECT_TRUE(seen.insert(b).second) << "bucket " << b << " moves twice";
            EXPECT_EQ(m.shard_of_bucket(b), mv.source) << "bucket " << b;
        }
    }
    auto after = p.apply(m);
    EXPECT_EQ(after.version(), m.version() + 1);
    std::vector<uint32_t> owned(m.shard_names().size());
    for (uint16_t s : after.buckets()) ++owned[s];
    double sum = 0;
    for (double w : weights) sum += w;
    for (size_t i = 0; i < owned.size(); ++i) {
        double share = m.bucket_count() * weights[i] / sum;
        EXPECT_LT(std::fabs(owned[i] - share), 1.0) << "shard " << i;
        EXPECT_EQ(owned[i], p.quota[i]);
    }
    return after;
}

struct GrowCase {
    int bits, from, to;
};

class GrowTest : public ::testing::TestWithParam<GrowCase> {};

TEST_P(GrowTest, MovesAtMostTheMinimum) {
    const auto c = GetParam();
    auto m = grown(c.bits, c.from, c.to);
    auto p = plan_moves(m, {});
    ASSERT_TRUE(p.ok()) << p.error().message;
    check_plan(m, *p, std::vector<double>(c.to, 1.0));
    const uint64_t total = uint64_t{1} << c.bits;
    const uint64_t bound = (total * (c.to - c.from) + c.to - 1) / c.to;
    EXPECT_LE(p->moved_buckets(), bound);
    // Old shards only give and new shards only receive: nothing moves twice.
    uint32_t received_by_new = 0;
    for (const auto& mv : p->moves) {
        EXPECT_LT(mv.source, c.from);
        EXPECT_GE(mv.target, c.from);
        received_by_new += mv.buckets.size();
    }
    for (int i = c.from; i < c.to; ++i) EXPECT_GE(p->quota[i], total / c.to);
    EXPECT_EQ(p->moved_buckets(), received_by_new);
}

INSTANTIATE_TEST_SUITE_P(Table, GrowTest,
                         ::testing::Values(GrowCase{12, 1, 2}, GrowCase{12, 4, 5},
                                           GrowCase{12, 4, 8}, GrowCase{12, 5, 7},
                                           GrowCase{4, 3, 5}, GrowCase{10, 2, 3}));

TEST(Planner, ExactFiguresForFourToFive) {
    auto m = grown(12, 4, 5);
    auto p = plan_moves(m, {});
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->moved_buckets(), 819u);  // floor(4096 / 5); ceil(4096 * 1 / 5) = 820
    EXPECT_EQ(p->moves.size(), 4u);       // s0..s3 -> s4
}

TEST(Planner, BalancedMapMovesNothing) {
    auto m = router::ShardMap::make_default(12, names(4));
    auto p = plan_moves(m, {});
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(p->moves.empty());
}

TEST(Planner, DrainSpreadsEvenly) {
    auto m = router::ShardMap::make_default(12, names(4));
    auto p = plan_moves(m, {{}, {"s3"}});
    ASSERT_TRUE(p.ok());
    check_plan(m, *p, {1, 1, 1, 0});
    EXPECT_EQ(p->moved_buckets(), 1024u);
    ASSERT_EQ(p->moves.size(), 3u);
    for (const auto& mv : p->moves) {
        EXPECT_EQ(mv.source, 3);
        EXPECT_GE(mv.buckets.size(), 341u);
        EXPECT_LE(mv.buckets.size(), 342u);
    }
}

TEST(Planner, WeightsRespected) {
    auto m = grown(12, 2, 3);
    auto p = plan_moves(m, {{{"s2", 2.0}}, {}});
    ASSERT_TRUE(p.ok());
    check_plan(m, *p, {1, 1, 2});
    EXPECT_EQ(p->quota[2], 2048u);
    EXPECT_EQ(p->moved_buckets(), 2048u);
}

TEST(Planner, ZeroWeightActsAsDrainAndUnknownNamesFail) {
    auto m = router::ShardMap::make_default(8, names(2));
    auto p = plan_moves(m, {{{"s1", 0.0}}, {}});
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->moved_buckets(), 128u);
    EXPECT_FALSE(plan_moves(m, {{{"nope", 1.0}}, {}}).ok());
    EXPECT_FALSE(plan_moves(m, {{}, {"nope"}}).ok());
    EXPECT_FALSE(plan_moves(m, {{{"s0", -1.0}}, {}}).ok());
    EXPECT_FALSE(plan_moves(m, {{}, {"s0", "s1"}}).ok());
}

TEST(Planner, Runs) {
    EXPECT_EQ(format_runs({1, 2, 3, 7, 9, 10}), "1-3,7-7,9-10");
    EXPECT_EQ(format_runs({}), "");
}

}  // namespace
}  // namespace sg::rebalance
