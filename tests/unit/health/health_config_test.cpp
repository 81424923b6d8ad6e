// The [health] section of the configuration (common/health_config.h).
#include <gtest/gtest.h>

#include "common/config.h"

namespace sg {
namespace {

const std::string kShard = "[[shards]]\nname = \"s0\"\n";

TEST(HealthConfig, Defaults) {
    Config c = parse_config(kShard, "test.toml");
    EXPECT_EQ(c.health.query_timeout_ms, 0);
    EXPECT_EQ(c.health.server_check_delay_ms, 30000);
    EXPECT_EQ(c.health.server_lifetime_s, 3600);
    EXPECT_TRUE(c.health.tcp_keepalive);
    EXPECT_TRUE(c.health.check_enabled);
    EXPECT_EQ(c.health.check_interval_ms, 500);
    EXPECT_EQ(c.health.check_timeout_ms, 500);
    EXPECT_EQ(c.health.breaker_failures, 2);
}

TEST(HealthConfig, ParsesEveryKey) {
    Config c = parse_config(kShard + R"(
[health]
query_timeout_ms = 1500
query_timeout_grace_ms = 250
server_check_delay_ms = 0
server_lifetime_s = 60
tcp_keepalive = false
tcp_keepidle_s = 5
tcp_keepintvl_s = 2
tcp_keepcnt = 9
tcp_user_timeout_ms = 4000
check_enabled = false
check_interval_ms = 200
check_timeout_ms = 300
breaker_failures = 4
)",
                            "test.toml");
    const HealthConfig& h = c.health;
    EXPECT_EQ(h.query_timeout_ms, 1500);
    EXPECT_EQ(h.query_timeout_grace_ms, 250);
    EXPECT_EQ(h.server_check_delay_ms, 0);
    EXPECT_EQ(h.server_lifetime_s, 60);
    EXPECT_FALSE(h.tcp_keepalive);
    EXPECT_EQ(h.tcp_keepidle_s, 5);
    EXPECT_EQ(h.tcp_keepintvl_s, 2);
    EXPECT_EQ(h.tcp_keepcnt, 9);
    EXPECT_EQ(h.tcp_user_timeout_ms, 4000);
    EXPECT_FALSE(h.check_enabled);
    EXPECT_EQ(h.check_interval_ms, 200);
    EXPECT_EQ(h.check_timeout_ms, 300);
    EXPECT_EQ(h.breaker_failures, 4);
}

TEST(HealthConfig, RejectsBadValuesNamingTheKey) {
    auto expect_error = [](const std::string& text, const std::string& key,
                           const std::string& problem) {
        try {
            parse_config(text, "test.toml");
            FAIL() << "expected a ConfigError for " << key;
        } catch (const ConfigError& e) {
            EXPECT_EQ(e.key(), key) << e.what();
            EXPECT_NE(e.problem().find(problem), std::string::npos) << e.what();
        }
    };
    expect_error(kShard + "[health]\nbreaker_failures = 0\n", "health.breaker_failures",
                 "out of range");
    expect_error(kShard + "[health]\nquery_timeout_ms = -1\n", "health.query_timeout_ms",
                 "out of range");
    expect_error(kShard + "[health]\ncheck_timeout_ms = \"1s\"\n", "health.check_timeout_ms",
                 "expected an integer");
    expect_error(kShard + "[health]\nquery_timeout = 5\n", "health.query_timeout", "unknown key");
}

TEST(HealthConfig, EnvironmentOverrides) {
    Config c =
        parse_config(kShard, "test.toml", EnvMap{{"SHARDGATE_HEALTH_QUERY_TIMEOUT_MS", "700"}});
    EXPECT_EQ(c.health.query_timeout_ms, 700);
}

}  // namespace
}  // namespace sg
