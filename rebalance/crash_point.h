// Fault injection for the crash tests: when SHARDGATE_REBALANCE_CRASH_AT names a point, the
// process SIGKILLs itself on reaching it (no destructor, no flush: exactly a crash). Points:
// copy, catch-up, switch-prepared, switch-decided, switch-committed, cleanup.
#pragma once

namespace sg::rebalance {

void crash_point(const char* name);

}  // namespace sg::rebalance
