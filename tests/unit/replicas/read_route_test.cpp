// Which statements may use a standby, and which endpoint a read goes to (issue 19).
#include <gtest/gtest.h>

#include <vector>

#include "proxy/read_route.h"
#include "router/analyzer.h"

namespace sg::proxy {
namespace {

router::TableCatalog catalog() {
    return router::TableCatalog({TableConfig{"items", TableKind::Sharded, "id", KeyType::BigInt}});
}

bool standby_ok(const std::string& sql) {
    auto a = router::analyze(sql, catalog());
    return read_may_use_standby(a, false, PoolMode::Transaction);
}

TEST(ReadRoute, OnlyPlainReadsMayUseAStandby) {
    EXPECT_TRUE(standby_ok("SELECT * FROM items WHERE id = 1"));
    EXPECT_TRUE(standby_ok("SELECT count(*), max(id) FROM items WHERE id = 1"));
    EXPECT_TRUE(standby_ok("SELECT pg_is_in_recovery()"));
    EXPECT_TRUE(standby_ok("SELECT 1 UNION SELECT 2"));
    EXPECT_TRUE(standby_ok("WITH x AS (SELECT id FROM items WHERE id = 1) SELECT * FROM x"));
    EXPECT_FALSE(standby_ok("SELECT * FROM items WHERE id = 1 FOR UPDATE"));
    EXPECT_FALSE(standby_ok("SELECT * FROM items WHERE id = 1 FOR SHARE"));
    EXPECT_FALSE(
        standby_ok("WITH d AS (DELETE FROM items WHERE id = 1 RETURNING id) SELECT * FROM d"));
    EXPECT_FALSE(
        standby_ok("WITH u AS (UPDATE items SET id = id WHERE id = 1 RETURNING id) SELECT 1"));
    EXPECT_FALSE(standby_ok("SELECT nextval('s')"));
    EXPECT_FALSE(
        standby_ok("SELECT my_function(id) FROM items WHERE id = 1"));  // its body is unseen
    EXPECT_FALSE(standby_ok("SELECT app.lower(name) FROM items WHERE id = 1"));  // not the built-in
    EXPECT_FALSE(standby_ok("SELECT set_config('a.b', 'c', false)"));
    EXPECT_FALSE(standby_ok("SELECT pg_advisory_lock(1)"));
    EXPECT_FALSE(standby_ok("SELECT * INTO t2 FROM t1"));
    EXPECT_FALSE(standby_ok("INSERT INTO items VALUES (1)"));
    EXPECT_FALSE(standby_ok("SELECT 1; SELECT 2"));
    auto a = router::analyze("SELECT * FROM items WHERE id = 1", catalog());
    EXPECT_FALSE(read_may_use_standby(a, true, PoolMode::Transaction));  // inside a transaction
    EXPECT_FALSE(read_may_use_standby(a, false, PoolMode::Session));
}

TEST(ReadRoute, WritesForReadYourWrites) {
    auto w = [](const std::string& sql) {
        return counts_as_write(router::analyze(sql, catalog()));
    };
    EXPECT_TRUE(w("INSERT INTO items VALUES (1)"));
    EXPECT_TRUE(w("UPDATE items SET id = 2 WHERE id = 1"));
    EXPECT_TRUE(w("SELECT * FROM items WHERE id = 1 FOR UPDATE"));
    EXPECT_TRUE(w("SELECT my_function()"));
    EXPECT_TRUE(w("CREATE TABLE t (a int)"));
    EXPECT_FALSE(w("SELECT * FROM items WHERE id = 1"));
    EXPECT_FALSE(w("BEGIN"));
    EXPECT_FALSE(w("SET search_path = public"));
}

TEST(ReadRoute, ReadFromPrecedence) {
    ProxyConfig p;
    p.read_from = ReadFrom::Any;
    UserConfig u;
    auto plain = router::analyze("SELECT 1", catalog());
    EXPECT_EQ(effective_read_from(plain, nullptr, p), ReadFrom::Any);
    u.read_from = ReadFrom::Primary;
    EXPECT_EQ(effective_read_from(plain, &u, p), ReadFrom::Primary);
    auto hinted = router::analyze("/* shardgate.read_from=replica */ SELECT 1", catalog());
    EXPECT_EQ(effective_read_from(hinted, &u, p), ReadFrom::Replica);
}

TEST(ReadRoute, ChoosesTheLeastBusy) {
    std::vector<ReadOption> two{{1, 3}, {2, 1}};
    EXPECT_EQ(choose_read_endpoint(ReadFrom::Primary, true, 0, two), -1);
    EXPECT_EQ(choose_read_endpoint(ReadFrom::Replica, true, 0, two), 2);
    EXPECT_EQ(choose_read_endpoint(ReadFrom::Any, true, 0, two), -1);
    EXPECT_EQ(choose_read_endpoint(ReadFrom::Any, true, 1, two), 2);   // a tie: the standby
    EXPECT_EQ(choose_read_endpoint(ReadFrom::Any, false, 0, two), 2);  // the primary is down
    EXPECT_EQ(choose_read_endpoint(ReadFrom::Replica, true, 5, {}),
              -1);  // none eligible: the primary
    EXPECT_EQ(choose_read_endpoint(ReadFrom::Any, false, 0, {}), -1);
}

}  // namespace
}  // namespace sg::proxy
