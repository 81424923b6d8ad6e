// The registered proxies as the rebalancer sees them (issue 22, etcd; cli/rebalance_pauses.h).
//
// A proxy that does not answer (frozen by SIGSTOP, killed, cut off) is
// treated as gone only once its registration's lease has expired: from then on it cannot
// route sharded statements any more (it fences itself at the end of its routing window,
// proxy/cluster/etcd_agent.h), so a switch may be decided without it. Before that, the
// rebalancer waits (bounded by the lease TTL plus a margin) instead of deciding.
// Without etcd (file-based default), the static --proxy list is the set, and a proxy that
// does not answer stops the run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "rebalance/pg.h"

namespace sg::rebalance {

struct RegisteredProxy {
    std::string key;      // the registration's key
    std::string address;  // host:port of its client and admin listener
    int64_t lease = 0;    // the lease it is held under: another lease is another incarnation
    int ttl_s = 0;        // that lease's TTL
};

// How long a registered proxy may take to acknowledge a pause, beyond its drain bound, before
// it is suspected.
inline constexpr std::chrono::milliseconds kProxyAnswerBound{1500};

// How long to wait for a silent proxy's lease to expire: its TTL, etcd's expiry check
// (every 500 ms on the leader) and a leader election, which extends every lease.
inline std::chrono::milliseconds lease_expiry_bound(const RegisteredProxy& p) {
    return std::chrono::milliseconds(int64_t(p.ttl_s) * 1000 + 3000);
}

}  // namespace sg::rebalance
