#include "proxy/prepared_lookups.h"

#include <gtest/gtest.h>

namespace sg::proxy {
namespace {

const std::vector<uint32_t> kInt4{23};
const std::vector<uint32_t> kInt8{20};

TEST(PreparedLookups, OneNamePerShapeTypesAndSearchPath) {
    PreparedLookups reg;
    const std::string shape = "SELECT v FROM t WHERE id = $1";
    const std::string tk = PreparedLookups::table_key("", "t", "");
    EXPECT_EQ(reg.find(shape, kInt4, ""), nullptr);
    auto* a = reg.add(shape, kInt4, "", tk);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(reg.find(shape, kInt4, ""), a);
    EXPECT_EQ(reg.add(shape, kInt4, "", tk), a);  // adding again finds it
    // Other parameter types (id = 5000000000 is int8) or another search_path: another statement.
    auto* b = reg.add(shape, kInt8, "", tk);
    auto* c = reg.add(shape, kInt4, "SET search_path = s2",
                      PreparedLookups::table_key("", "t", "SET search_path = s2"));
    ASSERT_NE(b, nullptr);
    ASSERT_NE(c, nullptr);
    EXPECT_NE(a, b);
    EXPECT_NE(a, c);
    EXPECT_NE(a->id, b->id);
    EXPECT_NE(a->id, c->id);
    EXPECT_EQ(reg.size(), 3u);
    // Same table name under another path, or in another schema: another table key.
    EXPECT_NE(PreparedLookups::table_key("", "t", ""), PreparedLookups::table_key("", "t", "x"));
    EXPECT_NE(PreparedLookups::table_key("a", "t", ""), PreparedLookups::table_key("", "at", ""));
}

TEST(PreparedLookups, RetireAndSchemaChangesGiveNewNames) {
    PreparedLookups reg;
    auto* st = reg.add("SELECT v FROM t WHERE id = $1", kInt4, "",
                       PreparedLookups::table_key("", "t", ""));
    ASSERT_NE(st, nullptr);
    const uint64_t first = st->id;
    reg.retire(*st, first);
    const uint64_t second = st->id;
    EXPECT_NE(second, first);
    reg.retire(*st, first);  // a second report of the old name changes nothing
    EXPECT_EQ(st->id, second);

    auto& t = reg.table(st->table_key);
    t.known = true;
    t.unique = {"id"};
    reg.schema_changed();
    EXPECT_NE(st->id, second);                     // same entry (pointer still valid), new name
    EXPECT_FALSE(reg.table(st->table_key).known);  // unique columns are read again
}

TEST(PreparedLookups, BoundedRegistry) {
    PreparedLookups reg;
    const std::string tk = PreparedLookups::table_key("", "t", "");
    for (size_t i = 0; i < PreparedLookups::kMaxStatements; ++i)
        ASSERT_NE(reg.add("SELECT v FROM t WHERE id = $1 AND k" + std::to_string(i) + " = $2",
                          kInt4, "", tk),
                  nullptr);
    EXPECT_EQ(reg.add("SELECT one FROM more WHERE id = $1", kInt4, "", tk), nullptr);
    EXPECT_NE(reg.find("SELECT v FROM t WHERE id = $1 AND k7 = $2", kInt4, ""), nullptr);
}

}  // namespace
}  // namespace sg::proxy
