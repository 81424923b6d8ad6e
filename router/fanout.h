// Which SELECT constructs make concatenating several shards' rows a wrong answer.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <string>

namespace sg::router::detail {

// The first such construct, named for the error message ("ORDER BY", "aggregate function
// count()", ...); "" when concatenation is correct. Subqueries are not looked into: they are
// judged by where their tables live.
std::string fanout_blocker(const PgQuery__SelectStmt& s);

}  // namespace sg::router::detail
