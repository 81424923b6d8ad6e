// Where a read goes on a shard with standbys (issue 19), without I/O: the session gives the
// statement's facts and the endpoints' figures, and gets back the endpoint to use.
#pragma once

#include <chrono>
#include <optional>
#include <span>

#include "common/config.h"
#include "router/analyzer.h"

namespace sg::proxy {

// The read_from in force: the statement's hint, else the user's, else [proxy] read_from.
ReadFrom effective_read_from(const router::Analysis& a, const UserConfig* user,
                             const ProxyConfig& p);

// The statement may run on a standby at all: a replica-safe SELECT (router/replica_safe.h),
// outside any transaction, in transaction pooling (a session-pooled client keeps one server).
bool read_may_use_standby(const router::Analysis& a, bool in_transaction, PoolMode mode);

// The statement counts as the client's write for read_your_writes_ms: anything that is not a
// replica-safe read and not transaction control or a setting.
bool counts_as_write(const router::Analysis& a);

struct ReadOption {
    int endpoint = -1;  // a standby's endpoint index
    int busy = 0;       // statements running on it for this pool (its checked-out connections)
};

// The endpoint for a read: -1 for the primary. Replica: the least busy standby, the primary
// when none is eligible (a read on the primary is always right). Any: the least busy of the
// primary (when it is up) and the standbys, a standby on a tie.
int choose_read_endpoint(ReadFrom mode, bool primary_up, int primary_busy,
                         std::span<const ReadOption> standbys);

}  // namespace sg::proxy
