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
