#include "common/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace sg {
namespace {

const char* kGood = R"(
[proxy]
listen_addr = "127.0.0.1"
port = 6500
pool_mode = "session"
pool_size = 7

[admin]
http_listen = "127.0.0.1:9930"

[stats]
slow_query_ms = 250

[sharding]
database = "shop"
bucket_bits = 10
default_shard = "s1"

[[shards]]
name = "s0"
port = 5500

[[shards]]
name = "s1"
host = "127.0.0.1"
port = 5501
dbname = "other"

[[tables]]
name = "orders"
shard_key = "customer_id"
key_type = "bigint"

[[tables]]
name = "countries"
kind = "reference"

[[users]]
name = "app"
password = "secret"

[[users]]
name = "admin"
password = "md5e3e0ee0d2bee7a7bc1e5e6be3f4c6d4a"
auth = "md5"
admin = true
)";

// Asserts that parsing fails and that the error names `key` and contains `problem`.
void expect_error(const std::string& text, const std::string& key, const std::string& problem,
                  const EnvMap& env = {}) {
    try {
        parse_config(text, "test.toml", env);
        FAIL() << "expected a ConfigError for " << key;
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.file(), "test.toml");
        EXPECT_EQ(e.key(), key) << e.what();
        EXPECT_NE(e.problem().find(problem), std::string::npos) << e.what();
    }
}

TEST(Config, ParsesEverySection) {
    Config c = parse_config(kGood, "test.toml");
    EXPECT_EQ(c.proxy.port, 6500);
    EXPECT_EQ(c.proxy.pool_mode, PoolMode::Session);
    EXPECT_EQ(c.proxy.pool_size, 7);
    EXPECT_EQ(c.admin.http_listen, "127.0.0.1:9930");
    EXPECT_EQ(c.stats.slow_query_ms, 250);
    EXPECT_EQ(c.sharding.database, "shop");
    EXPECT_EQ(c.sharding.bucket_bits, 10);
    ASSERT_EQ(c.shards.size(), 2u);
    EXPECT_EQ(c.shards[0].host, "127.0.0.1");
    EXPECT_EQ(c.shards[0].dbname, "shop") << "dbname defaults to sharding.database";
    EXPECT_EQ(c.shards[1].dbname, "other");
    EXPECT_EQ(c.default_shard_index(), 1);
    ASSERT_EQ(c.tables.size(), 2u);
    EXPECT_EQ(c.tables[0].key_type, KeyType::BigInt);
    EXPECT_EQ(c.tables[1].kind, TableKind::Reference);
    ASSERT_EQ(c.users.size(), 2u);
    EXPECT_EQ(c.users[0].auth, AuthMethod::ScramSha256);
    EXPECT_TRUE(c.users[1].admin);
}

TEST(Config, DefaultsForEverythingOptional) {
    Config c = parse_config("[[shards]]\nname = \"only\"\n", "min.toml");
    EXPECT_EQ(c.proxy.port, 6432);
    EXPECT_EQ(c.proxy.pool_mode, PoolMode::Transaction);
    EXPECT_EQ(c.sharding.bucket_bits, 12);
    EXPECT_EQ(c.stats.n_plus_one_min, 5);
    EXPECT_EQ(c.default_shard_index(), 0);
    EXPECT_EQ(c.shards[0].port, 5432);
}

TEST(Config, EnvironmentOverridesKeys) {
    EnvMap env{{"SHARDGATE_PROXY_PORT", "7001"},
               {"SHARDGATE_PROXY_POOL_MODE", "transaction"},
               {"SHARDGATE_STATS_ENABLED", "false"},
               {"SHARDGATE_SHARDING_BUCKET_BITS", "14"}};
    Config c = parse_config(kGood, "test.toml", env);
    EXPECT_EQ(c.proxy.port, 7001);
    EXPECT_EQ(c.proxy.pool_mode, PoolMode::Transaction);
    EXPECT_FALSE(c.stats.enabled);
    EXPECT_EQ(c.sharding.bucket_bits, 14);
}

TEST(Config, BadEnvironmentOverrideNamesTheVariable) {
    expect_error(kGood, "proxy.port", "SHARDGATE_PROXY_PORT", {{"SHARDGATE_PROXY_PORT", "abc"}});
    expect_error(kGood, "sharding.bucket_bits", "out of range",
                 {{"SHARDGATE_SHARDING_BUCKET_BITS", "40"}});
}

TEST(Config, BadFilesNameTheKeyAndTheProblem) {
    const std::string shard = "[[shards]]\nname = \"s0\"\n";
    expect_error(shard + "[proxy]\nprot = 5\n", "proxy.prot", "unknown key");
    expect_error(shard + "[proxy]\nport = \"x\"\n", "proxy.port", "expected an integer");
    expect_error(shard + "[proxy]\nport = 70000\n", "proxy.port", "out of range");
    expect_error(shard + "[proxy]\npool_mode = \"statement\"\n", "proxy.pool_mode", "not one of");
    expect_error(shard + "[sharding]\nbucket_bits = 0\n", "sharding.bucket_bits", "out of range");
    expect_error(shard + "[sharding]\nbucket_bits = 17\n", "sharding.bucket_bits", "out of range");
    expect_error(shard + "[sharding]\ndefault_shard = \"nope\"\n", "sharding.default_shard",
                 "not the name");
    expect_error(shard + "[[shards]]\nname = \"s0\"\n", "shards[1].name",
                 "duplicate shard name 's0'");
    expect_error(shard + "[[shards]]\nport = 1\n", "shards[1].name", "missing");
    expect_error(shard + "[[tables]]\nname = \"t\"\n", "tables[0].shard_key", "has no shard_key");
    expect_error(shard + "[[tables]]\nname = \"t\"\nshard_key = \"id\"\n", "tables[0].key_type",
                 "has no key_type");
    expect_error(shard + "[[tables]]\nname = \"t\"\nshard_key = \"id\"\nkey_type = \"float\"\n",
                 "tables[0].key_type", "not one of");
    expect_error(shard + "[[tables]]\nname = \"t\"\nkind = \"reference\"\nshard_key = \"id\"\n",
                 "tables[0].shard_key", "cannot have");
    expect_error(shard + "[[users]]\nname = \"u\"\n", "users[0].password", "no password");
    expect_error(shard + "[[users]]\nname = \"u\"\npassword = \"p\"\nauth = \"ldap\"\n",
                 "users[0].auth", "not one of");
    expect_error(shard + "[bogus]\n", "bogus", "unknown section");
    expect_error("[proxy]\nport = 1\n", "shards", "at least one");
    expect_error(shard + "[proxy\n", "line 3", "");
}

TEST(Config, ServerLoginPrecedence) {
    Config c = parse_config(kGood, "test.toml");
    ServerLogin l = server_login(c.shards[0], c.find_user("app"));
    EXPECT_EQ(l.user, "app");
    EXPECT_EQ(l.password, "secret");
    l = server_login(c.shards[0], c.find_user("admin"));
    EXPECT_EQ(l.password, "") << "an md5 hash is never replayed to a server";
    c.shards[0].user = "svc";
    c.shards[0].password = "pw";
    l = server_login(c.shards[0], c.find_user("app"));
    EXPECT_EQ(l.user, "svc");
}

TEST(Config, LoadsFromFileAndReportsMissingFile) {
    auto dir = std::filesystem::temp_directory_path() / "sg_config_test";
    std::filesystem::create_directories(dir);
    auto path = (dir / "c.toml").string();
    std::ofstream(path) << kGood;
    Config c = load_config(path);
    EXPECT_EQ(c.source, path);
    EXPECT_EQ(c.map_path(), (dir / "shardmap.json").string());
    EXPECT_THROW(load_config((dir / "missing.toml").string()), ConfigError);
    std::filesystem::remove_all(dir);
}

TEST(Config, ExampleConfigsAreValid) {
    for (const auto& entry :
         std::filesystem::directory_iterator(SHARDGATE_TEST_DATA "/../../configs")) {
        if (entry.path().extension() != ".toml") continue;
        SCOPED_TRACE(entry.path().string());
        EXPECT_NO_THROW(load_config(entry.path().string()));
    }
}

}  // namespace
}  // namespace sg

namespace sg {
namespace {

TEST(Config, StatsWindowsAndHttpAuth) {
    const std::string shard = "[[shards]]\nname = \"s0\"\n";
    Config d = parse_config(shard, "test.toml");
    EXPECT_EQ(d.stats.window_seconds, 60);
    EXPECT_EQ(d.stats.window_count, 60);
    EXPECT_EQ(d.admin.http_auth, "");
    Config c =
        parse_config(shard +
                         "[stats]\nwindow_seconds = 10\nwindow_count = 360\n[admin]\nhttp_auth = "
                         "\"ops:pa:ss\"\n",
                     "test.toml");
    EXPECT_EQ(c.stats.window_seconds, 10);
    EXPECT_EQ(c.stats.window_count, 360);
    EXPECT_EQ(c.admin.http_auth, "ops:pa:ss");  // the password may hold colons, the user may not
    expect_error(shard + "[stats]\nwindow_seconds = 0\n", "stats.window_seconds", "out of range");
    expect_error(shard + "[stats]\nwindow_seconds = 3601\n", "stats.window_seconds",
                 "out of range");
    expect_error(shard + "[stats]\nwindow_count = 1\n", "stats.window_count", "out of range");
    expect_error(shard + "[stats]\nwindow_count = 1441\n", "stats.window_count", "out of range");
    expect_error(shard + "[stats]\nwindow_count = \"many\"\n", "stats.window_count",
                 "expected an integer");
    expect_error(shard + "[admin]\nhttp_auth = \"nopassword\"\n", "admin.http_auth",
                 "user:password");
    expect_error(shard + "[admin]\nhttp_auth = \":secret\"\n", "admin.http_auth", "user:password");
    expect_error(shard + "[admin]\nhttp_auth = \"ops:\"\n", "admin.http_auth", "user:password");
    expect_error(shard + "[admin]\nhttp_auth = \"ops:a\\nb\"\n", "admin.http_auth",
                 "control characters");
}

}  // namespace
}  // namespace sg
