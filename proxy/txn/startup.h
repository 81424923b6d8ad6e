// Wiring the commit protocol's recovery into a running proxy: one pass at startup (before
// clients are served: every prepared transaction of this instance is then a previous life's
// leftover), then a RecoveryWorker every [transactions] recovery_interval_s and whenever the
// coordinator leaves a transaction to it.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "proxy/txn/recovery.h"

namespace sg::proxy::txn {

class Coordinator;

std::unique_ptr<RecoveryWorker> start_recovery(const Config& cfg, Coordinator& coordinator);
// The log line of one pass (empty when it did nothing worth saying).
std::string describe(const RecoveryReport& rep);
// Prometheus text of the coordinator's counters (appended to /metrics).
std::string render_metrics(Coordinator& coordinator);

}  // namespace sg::proxy::txn
