// The literal-free keys the shape cache looks DML texts up by: texts that share a key must share
// libpg_query's fingerprint (checked against a full parse of each), and whatever the lexer is
// unsure about gets no key.
#include "proxy/stats/literal_key.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "proxy/stats/shape_cache.h"

namespace sg::stats {
namespace {

std::string key(std::string_view text) {
    std::string out;
    return literal_key(text, out) ? out : std::string("<none>");
}

TEST(LiteralKey, ConstantsBecomeMarkersOfTheirKind) {
    EXPECT_EQ(key("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;"),
              "SELECT abalance FROM pgbench_accounts WHERE aid = \x01i;");
    EXPECT_EQ(key("select 1.5, 'it''s', E'x', B'101', X'1F', N'n', U&'u', $$body$$, $t$b$t$, 1e3, "
                  "3000000000"),
              "select \x01"
              "f, \x01s, \x01s, \x01"
              "b, \x01"
              "b, \x01s, \x01s, \x01s, \x01s, \x01"
              "f, \x01"
              "f");
    EXPECT_EQ(key("SELECT * FROM t1 WHERE a$b = $1 AND \"x 1\" = 2 -- 3\n/* 4 /* 5 */ */"),
              "SELECT * FROM t1 WHERE a$b = $1 AND \"x 1\" = \x01i -- 3\n/* 4 /* 5 */ */");
    EXPECT_EQ(key("SELECT x::int[3], y[1] FROM t"), "SELECT x::int[3], y[1] FROM t");
    EXPECT_EQ(key("WITH a AS (SELECT 1) INSERT INTO t VALUES (2)"),
              "WITH a AS (SELECT \x01i) INSERT INTO t VALUES (\x01i)");
}

TEST(LiteralKey, NoKeyWhereTheLexerIsUnsure) {
    for (const char* text :
         {"FETCH 10 FROM c", "PREPARE TRANSACTION 'g1'", "DO $$ BEGIN END $$",
          "CREATE TABLE t (a varchar(10))", "SELECT 1; CREATE SEQUENCE s INCREMENT 5",
          "SELECT 'open", "SELECT /* open", "SELECT 0x1F", "SELECT 12abc", "SELECT 1e",
          "SELECT E'\\n'", "SELECT U&'\\0061'", "(SELECT 1)", "SELECT $x", "", "SELECT \x01i",
          "SELECT \"open"})
        EXPECT_EQ(key(text), "<none>") << text;
    EXPECT_NE(key("SELECT 1;  -- trailing\n"), "<none>");
}

// Texts of one shape with other constants: the key is shared, and so is the fingerprint a full
// parse of each gives.
TEST(LiteralKey, SharedKeyMeansSharedFingerprint) {
    const std::vector<std::pair<std::string, std::string>> pairs{
        {"SELECT abalance FROM pgbench_accounts WHERE aid = 1",
         "SELECT abalance FROM pgbench_accounts WHERE aid = 99"},
        {"SELECT * FROM t WHERE a = 'x' AND b > 1.5 LIMIT 10 OFFSET 5",
         "SELECT * FROM t WHERE a = 'yy' AND b > 2.25 LIMIT 20 OFFSET 0"},
        {"INSERT INTO t (a, b) VALUES (1, 'one')", "INSERT INTO t (a, b) VALUES (2, 'two')"},
        {"UPDATE t SET v = v + 1 WHERE id = 7", "UPDATE t SET v = v + 5 WHERE id = 8"},
        {"DELETE FROM t WHERE id = 1 RETURNING id", "DELETE FROM t WHERE id = 2 RETURNING id"},
        {"SELECT x::varchar(10), 'a'::text, INTERVAL '1 day' FROM t ORDER BY 1",
         "SELECT x::varchar(20), 'b'::text, INTERVAL '2 days' FROM t ORDER BY 2"},
        {"SELECT * FROM t WHERE ts > TIMESTAMP '2020-01-01' AND n = -1",
         "SELECT * FROM t WHERE ts > TIMESTAMP '2021-06-30' AND n = -2"},
        {"SELECT $$a$$ || $q$b$q$, B'1', X'0F'", "SELECT $$c$$ || $q$d$q$, B'10', X'FF'"},
        {"WITH c AS (SELECT 1 AS v) SELECT v + 2 FROM c",
         "WITH c AS (SELECT 3 AS v) SELECT v + 4 FROM c"},
        {"SELECT 2147483648", "SELECT 9999999999999"},
        {"VALUES (1, 'a'), (2, 'b')", "VALUES (3, 'c'), (4, 'd')"},
        {"select * from t where a like 'x%' escape '!' /* shardgate.key=1 */",
         "select * from t where a like 'y%' escape '#' /* shardgate.key=1 */"},
    };
    for (const auto& [a, b] : pairs) {
        ASSERT_NE(key(a), "<none>") << a;
        EXPECT_EQ(key(a), key(b)) << a << " / " << b;
        const auto sa = make_shape(a), sb = make_shape(b);
        ASSERT_TRUE(sa->parsed && sb->parsed) << a;
        EXPECT_EQ(sa->fingerprint, sb->fingerprint) << a << " / " << b;
        // And the cache answers the second text with that fingerprint, from the first's entry.
        ShapeCache cache(16, 1 << 20);
        cache.get(a);
        EXPECT_EQ(cache.get(b)->fingerprint, sb->fingerprint) << b;
        EXPECT_EQ(cache.hits(), 1u) << b;
    }
}

// Different kinds of constant never share a key (an Integer and a Float constant are different
// parse trees), and an integer too large for int32 is a Float constant.
TEST(LiteralKey, KindsStayApart) {
    EXPECT_NE(key("SELECT 1"), key("SELECT 1.0"));
    EXPECT_NE(key("SELECT 1"), key("SELECT '1'"));
    EXPECT_NE(key("SELECT 2147483647"), key("SELECT 2147483648"));
    EXPECT_EQ(key("SELECT 2147483648"), key("SELECT 1.5"));
    EXPECT_NE(key("SELECT B'1'"), key("SELECT '1'"));
}

// A text without constants (a prepared statement's) is found by its own bytes, and a text
// holding the key marker never reaches another text's entry that way.
TEST(ShapeCache, TextsWithoutConstantsAreTheirOwnKey) {
    ShapeCache cache(100, 1 << 20);
    const auto p = cache.get("UPDATE t SET a = a + $1 WHERE id = $2");
    EXPECT_EQ(cache.get("UPDATE t SET a = a + $1 WHERE id = $2")->fingerprint, p->fingerprint);
    EXPECT_EQ(cache.hits(), 1u);
    const auto lit = cache.get("SELECT 5");
    std::string marked;
    ASSERT_TRUE(literal_key("SELECT 5", marked));
    EXPECT_NE(marked, "SELECT 5");
    EXPECT_NE(cache.get(marked)->hex, lit->hex);  // the key's bytes as a text: not "SELECT 5"
}

TEST(ShapeCache, LiteralTextsShareOneEntryButUnparsedTextsKeepTheirOwn) {
    ShapeCache cache(100, 1 << 20);
    for (int i = 0; i < 50; ++i)
        cache.get("SELECT name FROM items WHERE id = " + std::to_string(i));
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_EQ(cache.misses(), 1u);
    EXPECT_EQ(cache.get("SELECT name FROM items WHERE id = 77")->normalized,
              "SELECT name FROM items WHERE id = $1");
    // Not parsed: grouped by exact text as before, each its own entry and fingerprint.
    const auto a = cache.get("SELECT FROM WHERE 1")->fingerprint;
    const auto b = cache.get("SELECT FROM WHERE 2")->fingerprint;
    EXPECT_NE(a, b);
    EXPECT_EQ(cache.get("SELECT FROM WHERE 1")->fingerprint, a);
}

}  // namespace
}  // namespace sg::stats
