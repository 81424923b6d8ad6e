// [[shards]] replicas, [proxy] read_from / max_replica_lag_ms / read_your_writes_ms, the user
// override and the statement hint (issue 19).
#include <gtest/gtest.h>

#include "common/config.h"
#include "router/analyzer.h"
#include "router/hints.h"

namespace sg {
namespace {

Config parse(const std::string& extra_proxy, const std::string& shard_extra,
             const std::string& users = "") {
    return parse_config("[proxy]\n" + extra_proxy +
                            "\n[[shards]]\nname = \"s0\"\nhost = \"10.0.0.1\"\nport = 5432\n" +
                            shard_extra + "\n" + users,
                        "t.toml");
}

std::string error_of(const std::string& extra_proxy, const std::string& shard_extra,
                     const std::string& users = "") {
    try {
        parse(extra_proxy, shard_extra, users);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

TEST(ReplicaConfig, DefaultsAreReadsFromThePrimary) {
    Config c = parse("", "");
    EXPECT_EQ(c.proxy.read_from, ReadFrom::Primary);
    EXPECT_EQ(c.proxy.max_replica_lag_ms, 1000);
    EXPECT_EQ(c.proxy.read_your_writes_ms, 1000);
    EXPECT_TRUE(c.shards[0].replicas.empty());
}

TEST(ReplicaConfig, ReplicasAndReadFrom) {
    Config c = parse("read_from = \"any\"\nmax_replica_lag_ms = 250\nread_your_writes_ms = 0",
                     "replicas = [{ host = \"10.0.0.2\", port = 5433 }, { port = 5434 }]",
                     "[[users]]\nname = \"app\"\npassword = \"x\"\nread_from = \"replica\"\n");
    EXPECT_EQ(c.proxy.read_from, ReadFrom::Any);
    EXPECT_EQ(c.proxy.max_replica_lag_ms, 250);
    EXPECT_EQ(c.proxy.read_your_writes_ms, 0);
    ASSERT_EQ(c.shards[0].replicas.size(), 2u);
    EXPECT_EQ(c.shards[0].replicas[0], (ReplicaEndpoint{"10.0.0.2", 5433}));
    EXPECT_EQ(c.shards[0].replicas[1],
              (ReplicaEndpoint{"10.0.0.1", 5434}));  // the shard's host by default
    ASSERT_TRUE(c.users[0].read_from);
    EXPECT_EQ(*c.users[0].read_from, ReadFrom::Replica);
}

TEST(ReplicaConfig, ErrorsNameTheFileAndTheKey) {
    EXPECT_EQ(error_of("read_from = \"standby\"", ""),
              "t.toml: proxy.read_from: 'standby' is not one of: primary, replica, any");
    EXPECT_EQ(error_of("", "replicas = [{ host = \"h\" }]"),
              "t.toml: shards[0].replicas[0].port: missing (every replica needs a port)");
    EXPECT_EQ(error_of("", "replicas = [{ port = 70000 }]"),
              "t.toml: shards[0].replicas[0].port: 70000 is out of range [1, 65535]");
    EXPECT_EQ(error_of("", "replicas = [{ port = 5433, weight = 2 }]"),
              "t.toml: shards[0].replicas[0].weight: unknown key (expected host, port)");
    EXPECT_EQ(error_of("", "replicas = \"h:5433\""),
              "t.toml: shards[0].replicas: expected an array of tables, e.g. replicas = [{ host = "
              "\"10.0.0.2\", port = 5432 }]");
    EXPECT_EQ(error_of("", "replicas = [{ port = 5432 }]"),
              "t.toml: shards[0].replicas[0]: 10.0.0.1:5432 is listed twice for shard 's0'");
    EXPECT_EQ(error_of("max_replica_lag_ms = 0", ""),
              "t.toml: proxy.max_replica_lag_ms: 0 is out of range [1, 86400000]");
    EXPECT_EQ(error_of("", "", "[[users]]\nname = \"app\"\npassword = \"x\"\nread_from = 1\n"),
              "t.toml: users[0].read_from: expected a string, got an integer");
}

TEST(ReplicaConfig, StatementHint) {
    EXPECT_EQ(router::scan_hints("/* shardgate.read_from=replica */ SELECT 1").read_from,
              "replica");
    EXPECT_FALSE(router::scan_hints("SELECT '/* shardgate.read_from=replica */'").read_from);
    router::TableCatalog catalog;
    auto bad = router::analyze("/* shardgate.read_from=standby */ SELECT 1", catalog);
    ASSERT_TRUE(bad.refusal);
    EXPECT_EQ(bad.refusal->sqlstate, "22023");
    EXPECT_FALSE(router::analyze("/* shardgate.read_from=any */ SELECT 1", catalog).refusal);
}

}  // namespace
}  // namespace sg
