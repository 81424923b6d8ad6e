// The shard list kept in etcd: its JSON (never credentials) and how a proxy's shards follow it.
#include "proxy/cluster/shard_list.h"

#include <gtest/gtest.h>

namespace sg::cluster {
namespace {

ShardConfig shard(std::string name, uint16_t port, std::string user = "",
                  std::string password = "") {
    ShardConfig s;
    s.name = std::move(name);
    s.host = "10.0.0.1";
    s.port = port;
    s.dbname = "app";
    s.user = std::move(user);
    s.password = std::move(password);
    return s;
}

TEST(ShardList, RoundTripsEndpointsWithoutCredentials) {
    auto a = shard("s0", 5432, "app", "secret-pw");
    a.replicas.push_back(ReplicaEndpoint{"10.0.0.9", 5433});
    const std::string text = shard_list_json({a, shard("s1", 5434)});
    EXPECT_EQ(text.find("secret-pw"), std::string::npos);
    EXPECT_EQ(text.find("password"), std::string::npos);
    EXPECT_EQ(text.find("\"user\""), std::string::npos);
    auto back = parse_shard_list(text, "/k/shards");
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->size(), 2u);
    EXPECT_EQ((*back)[0].name, "s0");
    EXPECT_EQ((*back)[0].port, 5432);
    EXPECT_EQ((*back)[0].dbname, "app");
    ASSERT_EQ((*back)[0].replicas.size(), 1u);
    EXPECT_EQ((*back)[0].replicas[0].port, 5433);
    EXPECT_TRUE((*back)[0].password.empty());
    EXPECT_EQ((*back)[1].name, "s1");
}

TEST(ShardList, RefusesMalformedValuesNamingTheKey) {
    for (const char* bad :
         {"", "[]", "{\"shards\": 3}", "{\"shards\": [{\"name\": \"s0\"}]}",
          "{\"shards\": [{\"name\": \"s0\", \"host\": \"h\", \"port\": 70000, \"dbname\": \"d\"}]}",
          "{\"shards\": [{\"name\": \"s0\", \"host\": \"h\", \"port\": 1, \"dbname\": \"d\"},"
          " {\"name\": \"s0\", \"host\": \"h\", \"port\": 2, \"dbname\": \"d\"}]}"}) {
        auto r = parse_shard_list(bad, "/k/shards");
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().message.find("/k/shards"), std::string::npos) << r.error().message;
    }
}

TEST(ShardList, FollowsEtcdEndpointsAppendsNewShardsWithTheDefaultLogin) {
    const std::vector<ShardConfig> current{shard("s0", 5432, "app", "pw0"),
                                           shard("s1", 9999, "app", "pw1"), shard("s9", 6000)};
    const std::vector<ShardConfig> etcd{shard("s0", 5432), shard("s1", 5433), shard("s2", 5434)};
    auto m = merge_shard_list(current, etcd, &current[0]);
    EXPECT_TRUE(m.changed);
    ASSERT_EQ(m.shards.size(), 4u);
    // Order kept: the config's indices, the learned shard appended; a config-only shard stays.
    EXPECT_EQ(m.shards[0].name, "s0");
    EXPECT_EQ(m.shards[1].name, "s1");
    EXPECT_EQ(m.shards[1].port, 5433);       // etcd's endpoint wins
    EXPECT_EQ(m.shards[1].password, "pw1");  // its own credentials stay
    EXPECT_EQ(m.shards[2].name, "s9");
    EXPECT_EQ(m.shards[3].name, "s2");
    EXPECT_EQ(m.shards[3].port, 5434);
    EXPECT_EQ(m.shards[3].user, "app");  // the default shard's login
    EXPECT_EQ(m.shards[3].password, "pw0");
    ASSERT_EQ(m.added, std::vector<std::string>{"s2"});
    ASSERT_EQ(m.differences.size(), 2u);
    EXPECT_NE(m.differences[0].find("9999"), std::string::npos);
    EXPECT_NE(m.differences[0].find("5433"), std::string::npos);

    auto again = merge_shard_list(m.shards, etcd, &m.shards[0]);
    EXPECT_FALSE(again.changed);
    EXPECT_TRUE(again.differences.empty());
}

}  // namespace
}  // namespace sg::cluster
