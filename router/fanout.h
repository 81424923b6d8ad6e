// Which SELECT constructs make concatenating several shards' rows a wrong answer.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <optional>
#include <string>
#include <vector>

#include "router/analyzer.h"

namespace sg::router::detail {

// The first such construct, named for the error message ("ORDER BY", "aggregate function
// count()", ...); "" when concatenation is correct. Subqueries are not looked into: they are
// judged by where their tables live.
std::string fanout_blocker(const PgQuery__SelectStmt& s);

// How the proxy combines the shards' rows of a fan-out SELECT that concatenation would get
// wrong (see Analysis::MergePlan); nullopt when it cannot. Combinable:
// - count(*), count(x), sum(x), min(x), max(x), with GROUP BY plain columns that are all
//   selected too (no DISTINCT/FILTER/ORDER BY inside the aggregate, no HAVING);
// - plain rows with DISTINCT (not DISTINCT ON);
// - either of them with ORDER BY output columns (positions or names) and integer LIMIT/OFFSET.
// Window functions, set operations and locking clauses are not.
std::optional<Analysis::MergePlan> merge_plan(const PgQuery__SelectStmt& s);

// UNION [ALL] of arms whose own rows concatenate (the caller checks the arms): the shards run
// the whole set operation; UNION's rows are made distinct again, and the set operation's ORDER
// BY (output names or positions) and LIMIT/OFFSET apply to the combined rows. nullopt for
// INTERSECT/EXCEPT and anything else.
std::optional<Analysis::MergePlan> set_operation_merge_plan(const PgQuery__SelectStmt& s);

}  // namespace sg::router::detail
