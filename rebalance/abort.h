// `shardgate rebalance abort`: ends an interrupted run cleanly instead of resuming it. A
// prepared switch is settled as a resumed run would (committed when the map file records the
// decision, rolled back otherwise), every proxy reloads the map and resumes, then the run's
// replication slots, publications and staging tables are dropped and the journal removed.
// Buckets already switched stay with their new owner (the map says so); nothing else moved.
#pragma once

#include <string>
#include <vector>

#include "rebalance/leftovers.h"
#include "rebalance/map_publisher.h"
#include "rebalance/pg.h"
#include "rebalance/switch_participants.h"

namespace sg::rebalance {

// What was dropped; an error leaves the journal in place so abort can be run again.
// With etcd (`participants`, `publish`: the lock holder's, cli/rebalance_pauses.h) the
// proxies are the registered ones and a decided switch is settled against the etcd map.
Expected<std::vector<RebalanceObject>> abort_rebalance(const Config& cfg,
                                                       const std::vector<std::string>& proxies,
                                                       const std::string& journal_path,
                                                       SwitchParticipants* participants = nullptr,
                                                       MapPublisher publish = {});

}  // namespace sg::rebalance
