// Which SELECT constructs make concatenating several shards' rows a wrong answer.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <string>
#include <vector>

#include "router/analyzer.h"

namespace sg::router::detail {

// The first such construct, named for the error message ("ORDER BY", "aggregate function
// count()", ...); "" when concatenation is correct. Subqueries are not looked into: they are
// judged by where their tables live.
std::string fanout_blocker(const PgQuery__SelectStmt& s);

// How to combine the shards' rows into the answer, when `s` is a plain SELECT of count(*),
// count(x), sum(x), min(x), max(x), optionally with GROUP BY plain columns that are all in the
// target list too, and nothing else (no DISTINCT, FILTER, ORDER BY inside the aggregate,
// HAVING, ORDER BY, LIMIT, OFFSET, window, set operation); empty otherwise.
std::vector<Analysis::Merge> mergeable_aggregates(const PgQuery__SelectStmt& s);

}  // namespace sg::router::detail
