// Who takes part in a switch's pause (rebalance/cutover.h): the proxies, reached either through
// their admin consoles (rebalance/proxies.h: the file-based default, `--proxy`) or through
// etcd (cli/rebalance_pauses.h: a pause key the registered proxies acknowledge).
//
// Contract, whatever the channel:
//  - pause() returns only once every live proxy holds the buckets (new statements on them wait,
//    no open transaction that touched them is left), each pause with a lease of `lease_ms`;
//    57014 when some proxy could not drain in time (nothing stays paused then);
//  - renew() extends every proxy's pause; a pause that lapsed or ended on some proxy makes it
//    fail (55000, consoles) or the decision fail (etcd: the map's compare-and-swap requires the
//    acknowledging registrations unchanged), so the switch is not decided either way;
//  - reload(v) returns once every live proxy routes by version v or newer;
//  - resume() ends the pauses; a pause that had lapsed is reported in `lapsed`, not an error;
//  - a proxy that did not answer is "unanswered" (the undecided switch aborts); refresh()
//    before the next switch waits, bounded, until it answers again or is gone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rebalance/pg.h"

namespace sg::rebalance {

class SwitchParticipants {
public:
    virtual ~SwitchParticipants() = default;
    virtual Status refresh() = 0;
    virtual bool any_unanswered() const = 0;
    // Pauses `runs` ("3-5,9") of map version `from_version` (the switch publishes its successor).
    virtual Status pause(const std::string& runs, uint64_t from_version, int drain_ms,
                         int lease_ms) = 0;
    virtual Status renew() = 0;
    virtual Status reload(uint64_t version) = 0;
    virtual Status resume(std::vector<std::string>* lapsed = nullptr) = 0;
};

}  // namespace sg::rebalance
