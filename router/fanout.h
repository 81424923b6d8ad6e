// Which SELECT constructs make concatenating several shards' rows a wrong answer.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/analyzer.h"

namespace sg::router::detail {

// A built-in aggregate's name (user-defined ones are not recognisable from the text alone).
bool is_known_aggregate(std::string_view name);

// The first aggregate or window function in `m` ("aggregate function count()", "window function
// rank()"), not looking into subqueries; "" when there is none.
std::string find_aggregate(const ProtobufCMessage* m);

// The first such construct, named for the error message ("ORDER BY", "aggregate function
// count()", ...); "" when concatenation is correct. Subqueries are not looked into: they are
// judged by where their tables live.
std::string fanout_blocker(const PgQuery__SelectStmt& s);

// How the proxy combines the shards' rows of a fan-out SELECT that concatenation would get
// wrong (see Analysis::MergePlan); nullopt when it cannot. Combinable:
// - aggregates whose per-shard values combine (Analysis::Merge: count, sum, min, max, avg via
//   each shard's sum and count, count(DISTINCT), bool_and/or, bit_and/or/xor, string_agg),
//   with GROUP BY and a HAVING that the combining query applies to the combined groups;
// - plain rows with DISTINCT (not DISTINCT ON);
// - either of them with ORDER BY (output columns; for plain rows also other expressions, which
//   the shards return as hidden columns) and LIMIT/OFFSET (constants or parameters).
// Window functions, set operations (see set_operation_merge_plan), WITH TIES and locking
// clauses are not.
std::optional<Analysis::MergePlan> merge_plan(const PgQuery__SelectStmt& s);

// UNION [ALL] of arms whose own rows concatenate (the caller checks the arms): the shards run
// the whole set operation; UNION's rows are made distinct again, and the set operation's ORDER
// BY (output names or positions) and LIMIT/OFFSET apply to the combined rows. nullopt for
// INTERSECT/EXCEPT and anything else.
std::optional<Analysis::MergePlan> set_operation_merge_plan(const PgQuery__SelectStmt& s);

}  // namespace sg::router::detail
