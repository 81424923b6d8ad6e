#include <gtest/gtest.h>

#include "common/config.h"
#include "proxy/txn/gid.h"
#include "proxy/txn/policy.h"

namespace sg::proxy::txn {

TEST(Gid, RoundTrips) {
    std::string g = make_gid("host-6432", 3, 1700000000123456ULL, 42);
    EXPECT_EQ(g, "sgx_host-6432_3_1700000000123456_42");
    auto p = parse_gid(g);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->instance, "host-6432");
    EXPECT_EQ(p->coordinator, 3);
    EXPECT_EQ(p->epoch_us, 1700000000123456ULL);
    EXPECT_EQ(p->sequence, 42u);
}

TEST(Gid, RejectsOtherNamespaces) {
    EXPECT_FALSE(parse_gid("sg_rb_run1_3"));     // the rebalancer's switch
    EXPECT_FALSE(parse_gid("sgx_a_b_1_2"));      // coordinator not a number
    EXPECT_FALSE(parse_gid("sgx_a_1_2"));        // a field missing
    EXPECT_FALSE(parse_gid("sgx__1_2_3"));       // no instance
    EXPECT_FALSE(parse_gid("sgx_a_1_2_3_4"));    // one too many
    EXPECT_FALSE(parse_gid("sgx_a_70000_2_3"));  // not a shard index
}

TEST(Gid, InstanceIsSanitized) {
    EXPECT_EQ(sanitize_instance("db_host.example:6432"), "db-host-example-6432");
    EXPECT_EQ(sanitize_instance("it's"), "it-s");  // no quote can reach the SQL
    EXPECT_EQ(sanitize_instance(""), "proxy");
    EXPECT_EQ(sanitize_instance(std::string(300, 'a')).size(), 64u);
}

TEST(Policy, WritesInATransactionBlockAreAtomic) {
    Config cfg;
    EXPECT_TRUE(atomic_statement(cfg, true, "UPDATE items SET v = 1"));
    EXPECT_TRUE(atomic_statement(cfg, true, "CREATE TABLE t (a int)"));
    EXPECT_TRUE(atomic_statement(cfg, true, "INSERT INTO t VALUES ('concurrently')"));  // a literal
    EXPECT_FALSE(atomic_statement(cfg, false, "SELECT * FROM items"));
    EXPECT_FALSE(atomic_statement(cfg, true, "CREATE INDEX CONCURRENTLY i ON t (a)"));
    EXPECT_FALSE(atomic_statement(cfg, true, "vacuum t"));
    EXPECT_FALSE(atomic_statement(cfg, true, "CREATE TEMP TABLE x (a int)"));
    EXPECT_FALSE(atomic_statement(cfg, true, "CREATE DATABASE d"));
    cfg.transactions.two_phase_commit = false;
    EXPECT_FALSE(atomic_statement(cfg, true, "UPDATE items SET v = 1"));
}

TEST(Policy, MaxParticipants) {
    Config cfg;
    EXPECT_FALSE(participants_refusal(cfg, 100));
    cfg.transactions.max_participants = 2;
    EXPECT_FALSE(participants_refusal(cfg, 2));
    auto r = participants_refusal(cfg, 3);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->sqlstate, "0A000");
}

TEST(TxnConfig, TransactionsSection) {
    Config c = parse_config(R"(
[transactions]
two_phase_commit = false
max_participants = 3
instance_id = "a1"
recovery_grace_s = 30
step_timeout_ms = 2000
[[shards]]
name = "s1"
)",
                            "t.toml", {});
    EXPECT_FALSE(c.transactions.two_phase_commit);
    EXPECT_EQ(c.transactions.max_participants, 3);
    EXPECT_EQ(c.transactions.instance_id, "a1");
    EXPECT_THROW(parse_config("[transactions]\nrecovery_grace_s = 1\nstep_timeout_ms = "
                              "1000\n[[shards]]\nname = \"s\"\n",
                              "t.toml", {}),
                 ConfigError);
    EXPECT_THROW(
        parse_config("[transactions]\nbogus = 1\n[[shards]]\nname = \"s\"\n", "t.toml", {}),
        ConfigError);
}

}  // namespace sg::proxy::txn

#include "proxy/txn/savepoints.h"

namespace sg::proxy::txn {

TEST(Savepoints, ParsesPostgresForms) {
    using K = SavepointCommand::Kind;
    auto c = parse_savepoint("SAVEPOINT Sp1");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->kind, K::Savepoint);
    EXPECT_EQ(c->name, "sp1");
    c = parse_savepoint("release savepoint \"Mixed\"\"Q\";");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->kind, K::Release);
    EXPECT_EQ(c->name, "Mixed\"Q");
    c = parse_savepoint("RELEASE a");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "a");
    c = parse_savepoint("ROLLBACK WORK TO SAVEPOINT b");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->kind, K::RollbackTo);
    EXPECT_EQ(c->name, "b");
    c = parse_savepoint(" /* c */ rollback to x -- t");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "x");
    EXPECT_FALSE(parse_savepoint("ROLLBACK"));
    EXPECT_FALSE(parse_savepoint("SAVEPOINT a b"));
    EXPECT_FALSE(parse_savepoint("SELECT 1"));
}

TEST(Savepoints, FollowPostgresStackRules) {
    Savepoints s;
    for (const char* sql : {"SAVEPOINT a", "SAVEPOINT b", "SAVEPOINT a", "SAVEPOINT c"})
        s.apply(*parse_savepoint(sql));
    s.apply(*parse_savepoint("ROLLBACK TO a"));  // the latest a: c goes, a stays
    EXPECT_EQ(s.open(), (std::vector<std::string>{"a", "b", "a"}));
    s.apply(*parse_savepoint("RELEASE b"));  // b and everything after it
    EXPECT_EQ(s.open(), (std::vector<std::string>{"a"}));
    EXPECT_EQ(s.replay(), "; SAVEPOINT \"a\"");
}

}  // namespace sg::proxy::txn
