// Analysis::simple_lookup: which statement shapes the proxy may run as prepared lookups
// (proxy/prepared_lookups.h).
#include <gtest/gtest.h>

#include "router/analyzer.h"
#include "tests/unit/router/router_fixture.h"

namespace sg::router::testing {
namespace {

// Analysis::simple_lookup: which shapes the proxy may run as prepared lookups.
TEST(Analyzer, SimpleLookups) {
    static const TableCatalog catalog = test_catalog();
    struct Case {
        const char* sql;
        std::vector<std::string> columns;  // empty: not a simple lookup
        const char* table = "";
        const char* schema = "";
    };
    const Case cases[] = {
        {"SELECT abalance FROM pgbench_accounts WHERE aid = $1;", {"aid"}, "pgbench_accounts"},
        {"SELECT a.name FROM public.users a WHERE $1 = a.id AND a.org = $2",
         {"id", "org"},
         "users",
         "public"},
        {"SELECT name FROM logs WHERE (id = $2 AND deleted IS NULL) AND kind = $1 FOR UPDATE",
         {"kind", "id"},
         "logs"},
        {"SELECT count(*) FROM logs WHERE id = $1", {"id"}, "logs"},
        {"SELECT * FROM logs WHERE id = $1", {}},  // * may change with the table
        {"SELECT l.* FROM logs l WHERE id = $1", {}},
        {"SELECT name FROM logs WHERE id = $1 LIMIT $2", {}},  // a parameter elsewhere
        {"SELECT $2, name FROM logs WHERE id = $1", {}},
        {"SELECT name FROM logs WHERE id > $1", {}},               // not an equality
        {"SELECT name FROM logs WHERE id = $1 OR id = $2", {}},    // not ANDed
        {"SELECT name FROM logs WHERE id = $1 AND id2 = $1", {}},  // one parameter twice
        {"SELECT name FROM logs WHERE id = lower($1)", {}},
        {"SELECT name FROM logs, tags WHERE logs.id = $1", {}},  // two tables
        {"SELECT name FROM logs JOIN tags USING (id) WHERE id = $1", {}},
        {"WITH x AS (SELECT 1) SELECT name FROM logs WHERE id = $1", {}},
        {"SELECT name FROM logs WHERE id = $1 UNION SELECT name FROM tags WHERE id = $2", {}},
        {"SELECT name FROM logs", {}},  // no parameter at all
        {"SELECT name INTO t2 FROM logs WHERE id = $1", {}},
        {"UPDATE logs SET name = 'x' WHERE id = $1", {}},
        {"EXPLAIN SELECT name FROM logs WHERE id = $1", {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.sql);
        Analysis a = analyze(c.sql, catalog);
        if (c.columns.empty()) {
            EXPECT_FALSE(a.simple_lookup && a.kind == StatementKind::Select);
            continue;
        }
        ASSERT_TRUE(a.simple_lookup);
        EXPECT_EQ(a.simple_lookup->columns, c.columns);
        EXPECT_EQ(a.simple_lookup->table, c.table);
        EXPECT_EQ(a.simple_lookup->schema, c.schema);
    }
}

}  // namespace
}  // namespace sg::router::testing
