// Fault injection for the crash tests: when SHARDGATE_REBALANCE_CRASH_AT names a point, the
// process SIGKILLs itself on reaching it (no destructor, no flush: exactly a crash). Points:
// copy, catch-up, switch-paused, switch-prepared, switch-deciding (after the renewal, before
// the map is published), switch-decided, switch-committed, cleanup.
// When SHARDGATE_REBALANCE_STALL_AT names a point, the process stops there (logging "stalled
// at POINT") until a signal interrupts it (rebalance/interrupt.h) or 60 s pass: a test can then
// interrupt or kill it at a known step.
// When SHARDGATE_REBALANCE_DELAY_AT is "POINT:MS:COUNT", the first COUNT times the process
// reaches POINT it sleeps MS milliseconds there (logging "delayed at POINT"): a test makes a
// step slow, e.g. the decision of a switch (point switch-deciding) past a proxy's pause bound.
#pragma once

namespace sg::rebalance {

void crash_point(const char* name);

}  // namespace sg::rebalance
