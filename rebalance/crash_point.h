// Fault injection for the crash tests: when SHARDGATE_REBALANCE_CRASH_AT names a point, the
// process SIGKILLs itself on reaching it (no destructor, no flush: exactly a crash). Points:
// copy, catch-up, switch-paused, switch-prepared, switch-decided, switch-committed, cleanup.
// When SHARDGATE_REBALANCE_STALL_AT names a point, the process stops there (logging "stalled
// at POINT") until a signal interrupts it (rebalance/interrupt.h) or 60 s pass: a test can then
// interrupt or kill it at a known step.
#pragma once

namespace sg::rebalance {

void crash_point(const char* name);

}  // namespace sg::rebalance
