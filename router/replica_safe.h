// Which statements a standby may answer (issue 19). A standby refuses every write itself
// (25006), so the danger is not a write landing there but a statement that looks like a read
// and is not one: SELECT ... FOR UPDATE (takes row locks the primary must hold), a
// data-modifying WITH, SELECT INTO, or a function that writes (nextval(), a user function
// whose body the router cannot see). The rule is an allow-list: a SELECT whose every function
// call is a built-in known to be read-only; anything else runs on the primary. A wrong "no"
// costs a little primary load; a wrong "yes" would be a wrong or refused answer.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <string>

namespace sg::router {

// "" when the SELECT `select` (a SelectStmt message) may run on a standby, else what keeps it
// on the primary ("FOR UPDATE/SHARE", "a data-modifying WITH", "function foo()"...).
std::string replica_blocker(const ProtobufCMessage& select);

}  // namespace sg::router
