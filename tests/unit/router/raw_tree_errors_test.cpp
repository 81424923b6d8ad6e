// The raw tree converter's errors: syntax errors as libpg_query reports them, and statements
// nested deeper than shardgate analyses.
#include "router/raw_tree.h"

#include <gtest/gtest.h>
#include <pg_query.h>

#include <string>

#include "router/parser.h"
#include "tests/unit/router/raw_tree_fixture.h"

namespace sg::router {
namespace {

using testing::pack;
using testing::Reference;
using testing::reference;
using testing::TestArena;

TEST(RawTree, SyntaxErrorsAsLibpgQueryReportsThem) {
    const char* bad[] = {
        "SELECT * FROM WHERE x",
        "SELEC 1",
        "SELECT 'unterminated",
        "SELECT \"unterminated",
        "SELECT 1 +",
        "INSERT INTO t VALUES (1",
        "UPDATE t SET WHERE a = 1",
        "SELECT 1; SELEC 2",
        "SELECT 1_000",
        "SELECT 'a' 'b'",
        "SELECT 日本語 FROM WHERE",
        "SELECT 0x1F",
        "SELECT U&'\\zzzz'",
        "/* unterminated comment",
        "SET",
        "BEGIN ISOLATION LEVEL nonsense",
    };
    for (const char* sql : bad) {
        SCOPED_TRACE(sql);
        const Reference ref = reference(sql);
        ASSERT_TRUE(ref.error);
        TestArena arena;
        auto raw = parse_raw_tree(sql, arena.allocator());
        ASSERT_FALSE(raw);
        EXPECT_EQ(raw.error().message, ref.message);
        EXPECT_EQ(raw.error().cursor_pos, ref.cursor_pos);
        auto tree = parse_sql(sql);
        ASSERT_FALSE(tree);
        EXPECT_EQ(tree.error().message, ref.message);
        EXPECT_EQ(tree.error().cursor_pos, ref.cursor_pos);
    }
}

std::string chain(const char* head, int terms, const char* tail) {
    std::string sql = head;
    for (int i = 0; i < terms; ++i) sql += i ? "+1" : "1";
    return sql + tail;
}

// Every pass over a tree recurses (the converter, the protobuf packer and unpacker, the
// router's walkers), so depth is bounded: a deeper statement is an error, not a stack overflow
// that takes every client down. 60000 levels overflowed the 8 MB stack before.
TEST(RawTree, TooDeepIsAnErrorNotACrash) {
    const std::string deep = chain("SELECT ", 60000, " FROM users WHERE id = 1");
    TestArena arena;
    auto raw = parse_raw_tree(deep.c_str(), arena.allocator());
    ASSERT_FALSE(raw);
    EXPECT_EQ(raw.error().sqlstate, "54001");
    auto tree = parse_sql(deep);
    ASSERT_FALSE(tree);
    EXPECT_EQ(tree.error().sqlstate, "54001");
    EXPECT_NE(tree.error().message.find("nested more than 3000 levels"), std::string::npos)
        << tree.error().message;

    // A deep set operation (the arms are not Node-wrapped).
    std::string unions = "SELECT 1";
    for (int i = 0; i < kMaxParseDepth + 5; ++i) unions += " UNION SELECT 1";
    auto u = parse_sql(unions);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().sqlstate, "54001");

    // A statement only the protobuf path parses: refused from its nesting bound.
    auto ctas = parse_sql(chain("CREATE TABLE t AS SELECT ", 60000, ""));
    ASSERT_FALSE(ctas);
    EXPECT_EQ(ctas.error().sqlstate, "54001");
    EXPECT_NE(ctas.error().message.find("may be nested"), std::string::npos)
        << ctas.error().message;
}

TEST(RawTree, DeepButWithinTheLimitConvertsExactly) {
    const std::string sql = chain("SELECT ", kMaxParseDepth / 2, " FROM users WHERE id = 1");
    const Reference ref = reference(sql.c_str());
    TestArena arena;
    auto tree = parse_raw_tree(sql.c_str(), arena.allocator());
    ASSERT_TRUE(tree && *tree != nullptr);
    EXPECT_EQ(pack(**tree), ref.bytes);
    auto small = parse_sql(chain("CREATE TABLE t AS SELECT ", 1000, ""));  // protobuf path
    EXPECT_TRUE(small) << small.error().message;
    auto syntax = parse_sql("SELEC 1");
    ASSERT_FALSE(syntax);
    EXPECT_EQ(syntax.error().sqlstate, "42601");
}

}  // namespace
}  // namespace sg::router
