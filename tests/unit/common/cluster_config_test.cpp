// [cluster]: etcd endpoints, key prefix and lease TTL; every error names the file and the key.
#include <gtest/gtest.h>

#include "common/config.h"

namespace sg {
namespace {

const std::string kShards = "[[shards]]\nname = \"s0\"\n";

void expect_error(const std::string& cluster, const std::string& key, const std::string& problem) {
    try {
        parse_config(kShards + cluster, "c.toml");
        FAIL() << "expected a ConfigError for " << key;
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.file(), "c.toml");
        EXPECT_EQ(e.key(), key) << e.what();
        EXPECT_NE(e.problem().find(problem), std::string::npos) << e.what();
    }
}

TEST(ClusterConfig, AbsentMeansNoEtcd) {
    Config c = parse_config(kShards, "c.toml");
    EXPECT_FALSE(c.cluster.uses_etcd());
    EXPECT_EQ(c.cluster.map_key(), "/shardgate/default/map");
    EXPECT_EQ(c.cluster.proxies_prefix(), "/shardgate/default/proxies/");
}

TEST(ClusterConfig, ReadsEveryKey) {
    Config c =
        parse_config(kShards +
                         "[cluster]\netcd = [\"127.0.0.1:2379\", \"10.0.0.2:22379\"]\n"
                         "prefix = \"/shardgate/orders\"\nlease_ttl_s = 7\netcd_timeout_ms = 900\n",
                     "c.toml");
    ASSERT_TRUE(c.cluster.uses_etcd());
    EXPECT_EQ(c.cluster.etcd, (std::vector<std::string>{"127.0.0.1:2379", "10.0.0.2:22379"}));
    EXPECT_EQ(c.cluster.map_key(), "/shardgate/orders/map");
    EXPECT_EQ(c.cluster.lease_ttl_s, 7);
    EXPECT_EQ(c.cluster.etcd_timeout_ms, 900);
}

TEST(ClusterConfig, RejectsBadValuesNamingTheKey) {
    expect_error("[cluster]\netcd = \"127.0.0.1:2379\"\n", "cluster.etcd", "array");
    expect_error("[cluster]\netcd = []\n", "cluster.etcd", "at least one");
    expect_error("[cluster]\netcd = [\"127.0.0.1:2379\", \"nohost\"]\n", "cluster.etcd[1]",
                 "host:port");
    expect_error("[cluster]\netcd = [\"127.0.0.1:99999\"]\n", "cluster.etcd[0]", "host:port");
    expect_error("[cluster]\nprefix = \"shardgate\"\n", "cluster.prefix", "must start with '/'");
    expect_error("[cluster]\nprefix = \"/shardgate/\"\n", "cluster.prefix", "not end with '/'");
    expect_error("[cluster]\nlease_ttl_s = 1\n", "cluster.lease_ttl_s", "out of range");
    expect_error("[cluster]\netcd = [\"h:1\"]\nlease_ttl_s = 2\netcd_timeout_ms = 1000\n",
                 "cluster.etcd_timeout_ms", "half of lease_ttl_s");
    expect_error("[cluster]\nendpoints = [\"h:1\"]\n", "cluster.endpoints", "unknown key");
}

}  // namespace
}  // namespace sg
