// The joined wait-for graph of deadlocks across shards (proxy/txn/wait_graph.h).
#include "proxy/txn/wait_graph.h"

#include <gtest/gtest.h>

namespace sg::proxy::txn {
namespace {

using Pairs = std::vector<std::pair<int, int32_t>>;

// Transactions 1001 (older) and 1002 of this proxy, each on shards 0 and 1.
std::vector<TxnBackend> two_spanning() {
    return {{1001, 0, 10}, {1001, 1, 11}, {1002, 0, 20}, {1002, 1, 21}};
}
const std::vector<std::pair<uint64_t, int64_t>> kStarted = {{1001, 100}, {1002, 200}};

TEST(WaitGraph, TwoTransactionsWaitingForEachOtherOnTwoShardsAreADeadlock) {
    // 1001 waits on shard 1 for 1002's backend; 1002 waits on shard 0 for 1001's.
    auto v = find_deadlocks(two_spanning(), kStarted, {{1, 11, {21}}, {0, 20, {10}}});
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].txn, 1002u);  // the younger one
    EXPECT_EQ(v[0].waiting, (Pairs{{0, 20}}));
    EXPECT_EQ(v[0].cycle, (std::vector<uint64_t>{1001, 1002}));
    EXPECT_EQ(v[0].shards, (std::vector<int>{0, 1}));
}

TEST(WaitGraph, TheYoungestTransactionIsTheVictimWhateverTheOrderOfTheReadings) {
    const std::vector<std::pair<uint64_t, int64_t>> started = {{1001, 300}, {1002, 200}};
    auto v = find_deadlocks(two_spanning(), started, {{0, 20, {10}}, {1, 11, {21}}});
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].txn, 1001u);
    EXPECT_EQ(v[0].waiting, (Pairs{{1, 11}}));
}

TEST(WaitGraph, AWaitWithoutACycleIsNoDeadlock) {
    // 1001 waits for 1002 on shard 1; 1002 waits for nobody.
    EXPECT_TRUE(find_deadlocks(two_spanning(), kStarted, {{1, 11, {21}}}).empty());
    // Both wait for a third backend outside any transaction of this proxy.
    EXPECT_TRUE(find_deadlocks(two_spanning(), kStarted, {{1, 11, {99}}, {0, 20, {98}}}).empty());
}

TEST(WaitGraph, ACycleOnOneShardIsLeftToThatShardsPostgreSQL) {
    // Backends 30 and 31 on shard 0, neither of a spanning transaction, wait for each other.
    EXPECT_TRUE(find_deadlocks(two_spanning(), kStarted, {{0, 30, {31}}, {0, 31, {30}}}).empty());
}

TEST(WaitGraph, ACycleThroughABackendOfAnotherTransactionIsFound) {
    // 1001 waits on shard 1 for backend 50 (a single-shard transaction), which waits on shard 1
    // for 1002; 1002 waits on shard 0 for 1001.
    auto v =
        find_deadlocks(two_spanning(), kStarted, {{1, 11, {50}}, {1, 50, {21}}, {0, 20, {10}}});
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].txn, 1002u);
    EXPECT_EQ(v[0].cycle, (std::vector<uint64_t>{1001, 1002}));
}

TEST(WaitGraph, ThreeTransactionsOverThreeShards) {
    std::vector<TxnBackend> b = {{1, 0, 10}, {1, 1, 11}, {2, 1, 21},
                                 {2, 2, 22}, {3, 2, 32}, {3, 0, 30}};
    // 1 waits on shard 1 for 2; 2 waits on shard 2 for 3; 3 waits on shard 0 for 1.
    auto v =
        find_deadlocks(b, {{1, 5}, {2, 7}, {3, 6}}, {{1, 11, {21}}, {2, 22, {32}}, {0, 30, {10}}});
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].txn, 2u);
    EXPECT_EQ(v[0].waiting, (Pairs{{2, 22}}));
    EXPECT_EQ(v[0].shards, (std::vector<int>{0, 1, 2}));
}

TEST(WaitGraph, APreparedTransactionBlockerClosesNoCycle) {
    // pg_blocking_pids reports a prepared transaction as pid 0.
    EXPECT_TRUE(find_deadlocks(two_spanning(), kStarted, {{1, 11, {0}}, {0, 20, {0}}}).empty());
}

TEST(WaitGraph, TwoIndependentDeadlocksGetAVictimEach) {
    std::vector<TxnBackend> b = two_spanning();
    b.insert(b.end(), {{2001, 2, 40}, {2001, 3, 41}, {2002, 2, 50}, {2002, 3, 51}});
    auto v = find_deadlocks(b, {{1001, 1}, {1002, 2}, {2001, 3}, {2002, 4}},
                            {{1, 11, {21}}, {0, 20, {10}}, {3, 41, {51}}, {2, 50, {40}}});
    ASSERT_EQ(v.size(), 2u);
    std::vector<uint64_t> victims = {v[0].txn, v[1].txn};
    std::sort(victims.begin(), victims.end());
    EXPECT_EQ(victims, (std::vector<uint64_t>{1002, 2002}));
}

TEST(WaitGraph, PidArraysParseAsPostgreSQLPrintsThem) {
    EXPECT_EQ(parse_pid_array("{}"), (std::vector<int32_t>{}));
    EXPECT_EQ(parse_pid_array("{12}"), (std::vector<int32_t>{12}));
    EXPECT_EQ(parse_pid_array("{12,345,6}"), (std::vector<int32_t>{12, 345, 6}));
    EXPECT_TRUE(parse_pid_array("").empty());
    EXPECT_TRUE(parse_pid_array("{1,x}").empty());
    EXPECT_TRUE(parse_pid_array("{99999999999}").empty());
}

}  // namespace
}  // namespace sg::proxy::txn
