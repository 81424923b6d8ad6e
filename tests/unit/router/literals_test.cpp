#include "router/literals.h"

#include <gtest/gtest.h>

namespace sg::router {
namespace {

struct Case {
    const char* sql;
    bool ok;
    const char* shape;
    std::vector<std::string> values;
};

TEST(Literals, ShapesAndValues) {
    const Case cases[] = {
        {"SELECT abalance FROM pgbench_accounts WHERE aid = 123",
         true,
         "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
         {"123"}},
        {"SELECT * FROM t WHERE k = 'it''s' AND n IN (1, 2)",
         true,
         "SELECT * FROM t WHERE k = $1 AND n IN ($2, $3)",
         {"it's", "1", "2"}},
        {"SELECT pg_sleep(0.3), 'slow'", true, "SELECT pg_sleep($1), $2", {"0.3", "slow"}},
        {"SELECT 1e5, 2.5E-3", true, "SELECT $1, $2", {"1e5", "2.5E-3"}},
        {"SELECT * FROM t1 WHERE c2 = 7", true, "SELECT * FROM t1 WHERE c2 = $1", {"7"}},
        {"/* shardgate.shard=s2 */ SELECT 5", true, "/* shardgate.shard=s2 */ SELECT $1", {"5"}},
        {"SELECT \"col 1\" FROM t WHERE x = 4 -- 9\n",
         true,
         "SELECT \"col 1\" FROM t WHERE x = $1 -- 9\n",
         {"4"}},
        // Non-ASCII identifiers keep their digits, as PostgreSQL's lexer reads them.
        {"SELECT café1 FROM t WHERE k = 3", true, "SELECT café1 FROM t WHERE k = $1", {"3"}},
        {"SELECT x\tFROM t\nWHERE k = 3\r\n", true, "SELECT x\tFROM t\nWHERE k = $1\r\n", {"3"}},
        {"SELECT now()", false, "", {}},                  // no constants
        {"SELECT * FROM t WHERE a = $1", false, "", {}},  // already parameterised
        {"SELECT $$x$$", false, "", {}},                  // dollar quoting
        {"SELECT E'a\\nb'", false, "", {}},               // escape string prefix
        {"SELECT 'a\\b'", false, "", {}},                 // backslash: leave to the parser
        {"SELECT 'a' 'b'", false, "", {}},                // adjacent constants
        {"SELECT 'unterminated", false, "", {}},
        {"SELECT 1.2.3", false, "", {}},
        {"SELECT 12abc", false, "", {}},
        {"SELECT /* a /* nested */ */ 1", false, "", {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.sql);
        LiteralShape out;
        EXPECT_EQ(extract_literals(c.sql, out), c.ok);
        if (!c.ok) continue;
        EXPECT_EQ(out.text, c.shape);
        EXPECT_EQ(out.values, c.values);
    }
}

// The types PostgreSQL's grammar gives constants (make_const): a parameter declared with them
// means what the constant meant.
TEST(Literals, ConstantTypes) {
    LiteralShape out;
    ASSERT_TRUE(
        extract_literals("SELECT 0, 2147483647, 2147483648, 000002147483647, 9223372036854775807, "
                         "9223372036854775808, "
                         "1.5, 1e5, '7'",
                         out));
    EXPECT_EQ(out.types, (std::vector<uint32_t>{23, 23, 20, 23, 20, 1700, 1700, 1700, 0}));
    EXPECT_EQ(numeric_constant_type("99999999999999999999"), 1700u);
    EXPECT_EQ(numeric_constant_type("0"), 23u);
    ASSERT_TRUE(extract_literals("SELECT 5", out));
    EXPECT_EQ(out.types, std::vector<uint32_t>{23});
}

TEST(Literals, BuffersAreReused) {
    LiteralShape out;
    ASSERT_TRUE(extract_literals("SELECT 1, 2, 3", out));
    ASSERT_TRUE(extract_literals("SELECT 9", out));
    EXPECT_EQ(out.text, "SELECT $1");
    EXPECT_EQ(out.values, std::vector<std::string>{"9"});
}

}  // namespace
}  // namespace sg::router
