#include "router/parser.h"

#include <gtest/gtest.h>

#include "router/hints.h"

namespace sg::router {
namespace {

TEST(Parser, ParsesStatements) {
    auto t = parse_sql("SELECT 1; UPDATE t SET a = 2 WHERE id = $1");
    ASSERT_TRUE(t);
    ASSERT_EQ(t->size(), 2u);
    EXPECT_EQ(t->stmt(0).stmt->node_case, PG_QUERY__NODE__NODE_SELECT_STMT);
    EXPECT_EQ(t->stmt(1).stmt->node_case, PG_QUERY__NODE__NODE_UPDATE_STMT);
    ParseTree moved = std::move(t.value());
    EXPECT_EQ(moved.size(), 2u);
}

std::string repeated(const std::string& head, const std::string& item, const std::string& sep,
                     int n, const std::string& tail = "") {
    std::string out = head;
    for (int i = 0; i < n; ++i) out += (i ? sep : "") + item;
    return out + tail;
}

// The bound must be at least the real depth (it guards recursive passes) and stay small for
// long but flat statements (which it must not refuse).
TEST(Parser, NestingBoundFollowsDepthNotLength) {
    EXPECT_LE(*nesting_bound("SELECT 1"), 4);
    EXPECT_GE(*nesting_bound(repeated("SELECT ", "1", "+", 60000)), 60000);  // operator chain
    EXPECT_GE(*nesting_bound(repeated("SELECT ", "(", "", 500) + "1" + std::string(500, ')')), 500);
    EXPECT_GE(*nesting_bound(repeated("", "SELECT 1, 2", " UNION ", 4000)), 4000);  // across commas
    EXPECT_GE(*nesting_bound(repeated("SELECT * FROM t0", " JOIN t ON true", "", 4000)), 4000);
    EXPECT_GE(*nesting_bound(repeated("SELECT x", "::int", "", 4000)), 4000);
    // Long and flat: an IN list, a multi-row INSERT, several statements.
    EXPECT_LE(*nesting_bound(repeated("SELECT * FROM t WHERE id IN (", "12345", ", ", 20000, ")")),
              20);
    EXPECT_LE(
        *nesting_bound(repeated("INSERT INTO t (a, b) VALUES ", "(1, 'x' || 'y')", ", ", 20000)),
        20);
    EXPECT_LE(*nesting_bound(repeated("", "SELECT 1 + 2", "; ", 20000)), 20);
    EXPECT_LE(*nesting_bound(repeated("SELECT ", "a = 1", " OR ", 3)), 20);
}

TEST(Parser, FallbackPathRefusesWhatIsTooDeepButNotWhatIsLong) {
    auto deep = parse_sql(repeated("CREATE TABLE t AS SELECT ", "1", "+", 60000));  // not converted
    ASSERT_FALSE(deep);
    EXPECT_EQ(deep.error().sqlstate, "54001");
    auto wide = parse_sql(
        repeated("CREATE TABLE t AS SELECT * FROM u WHERE id IN (", "12345", ", ", 20000, ")"));
    EXPECT_TRUE(wide) << wide.error().message;
}

TEST(Parser, SyntaxErrorIsAValueWithPosition) {
    auto t = parse_sql("SELECT * FROM WHERE x");
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().message, "syntax error at or near \"WHERE\"");
    EXPECT_EQ(t.error().cursor_pos, 15);
}

TEST(Parser, FingerprintIgnoresConstants) {
    auto a = fingerprint_sql("SELECT * FROM t WHERE id = 1");
    auto b = fingerprint_sql("select *  from t where id = 2");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->value, b->value);
    EXPECT_EQ(a->hex.size(), 16u);
    EXPECT_FALSE(fingerprint_sql("SELEC 1"));
}

TEST(Parser, NormalizeReplacesConstants) {
    auto n = normalize_sql("SELECT * FROM t WHERE id = 42 AND name = 'x'");
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, "SELECT * FROM t WHERE id = $1 AND name = $2");
}

TEST(Parser, ScanFindsIdentifiersInBrokenText) {
    auto ids = scan_identifiers("SELEC * FROM Orders JOIN \"Mixed\"\"Q\" ON name");
    EXPECT_NE(std::find(ids.begin(), ids.end(), "orders"), ids.end());
    EXPECT_NE(std::find(ids.begin(), ids.end(), "Mixed\"Q"), ids.end());
    EXPECT_NE(std::find(ids.begin(), ids.end(), "name"), ids.end());  // unreserved keyword
}

TEST(Hints, CommentsOnly) {
    EXPECT_EQ(scan_hints("/* shardgate.shard=s2 */ SELECT 1").shard, "s2");
    EXPECT_EQ(scan_hints("SELECT 1 /*shardgate.key='42'*/").key, "42");
    EXPECT_EQ(scan_hints("SELECT 1 /* app=x, shardgate.key = 7 */").key, "7");
    EXPECT_FALSE(scan_hints("SELECT '/* shardgate.shard=s2 */'").shard);
    EXPECT_FALSE(scan_hints("SELECT 1 -- /* shardgate.shard=s2 */").shard);
    EXPECT_EQ(scan_hints("SELECT 1"), Hints{});
}

}  // namespace
}  // namespace sg::router
