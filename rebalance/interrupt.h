// Ctrl-C (SIGINT) and SIGTERM of `shardgate rebalance run` (issue 22). Outside a switch the
// signal ends the process as it always did (the journal resumes the run). During a switch the
// handler only sets a flag: the switch checks it between steps, aborts (rolls back, resumes the
// paused buckets on every proxy) and the run stops with an error naming the signal. A switch
// already decided finishes first. Even a kill -9 releases the buckets within the pause lease.
#pragma once

namespace sg::rebalance {

// Installs the handlers (once; idempotent).
void install_interrupt_handlers();
// The signal that asked the run to stop (0: none).
int interrupt_signal();
bool interrupted();

// Marks a switch in progress for as long as it lives: signals then only set the flag.
class SwitchInProgress {
public:
    SwitchInProgress();
    ~SwitchInProgress();
    SwitchInProgress(const SwitchInProgress&) = delete;
    SwitchInProgress& operator=(const SwitchInProgress&) = delete;
};

}  // namespace sg::rebalance
