// Fault injection for the commit protocol's crash tests: when SHARDGATE_TXN_CRASH_AT names a
// point, the proxy SIGKILLs itself on reaching it (no destructor, no flush: exactly a crash).
// Points, in the order a two-phase commit reaches them:
//   between-prepares  one participant prepared, the others not yet asked
//   prepared          every participant prepared, no decision yet
//   decided           the coordinator's prepared transaction (the decision) committed
//   between-commits   one other participant committed, the rest still prepared
#pragma once

#include <string_view>

namespace sg::proxy::txn {

// Whether SHARDGATE_TXN_CRASH_AT is `name` (read once).
bool crash_point_armed(std::string_view name);
// Dies here when armed at `name`.
void crash_point(std::string_view name);

}  // namespace sg::proxy::txn
