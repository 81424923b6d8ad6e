// Finding calls of user-defined functions that read sharded tables (issue 16).
#include "proxy/function_guard.h"

#include <gtest/gtest.h>

namespace sg::proxy {
namespace {

TEST(FunctionGuard, FindsCallsAsWholeWordsOutsideLiterals) {
    const std::vector<std::string> names{"total_items", "weird name"};
    EXPECT_EQ(called_function("SELECT total_items()", names), "total_items");
    EXPECT_EQ(called_function("SELECT 1 + public.Total_Items (3)", names), "total_items");
    EXPECT_EQ(called_function("SELECT \"weird name\"(1)", names), "weird name");
    EXPECT_EQ(called_function("SELECT 'total_items()' AS t", names), "");
    EXPECT_EQ(called_function("SELECT my_total_items(), total_items FROM t", names), "");
    EXPECT_EQ(called_function("SELECT 'it''s', total_items()", names), "total_items");
    EXPECT_EQ(called_function("SELECT total_items()", {}), "");
}

TEST(FunctionGuard, QueryNamesShardedTablesOnly) {
    std::vector<TableConfig> tables{{"public.Orders", TableKind::Sharded, "id", KeyType::BigInt},
                                    {"countries", TableKind::Reference, "", KeyType::BigInt}};
    const std::string q = risky_functions_query(tables);
    EXPECT_NE(q.find("strpos(f.src, 'orders')"), std::string::npos) << q;
    EXPECT_EQ(q.find("countries"), std::string::npos) << q;
    EXPECT_NE(q.find("execute"), std::string::npos);
}

}  // namespace
}  // namespace sg::proxy
