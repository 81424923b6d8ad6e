// Replication slots, publications, staging tables and prepared transactions a rebalance
// creates on the shards: listed by `status`, swept by `run` when no journal claims them
// (rebalance.md, invariant 6: nothing leaks).
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "rebalance/pg.h"

namespace sg::rebalance {

struct RebalanceObject {
    std::string shard;
    std::string kind;  // "slot", "publication", "staging table", "prepared transaction"
    std::string name;
    bool active = false;  // a slot currently streamed by some process
};

Expected<std::vector<RebalanceObject>> list_rebalance_objects(const Config& cfg);

// Drops every listed object except active slots (another rebalancer may be streaming them);
// returns what it dropped.
Expected<std::vector<RebalanceObject>> drop_rebalance_objects(const Config& cfg);

}  // namespace sg::rebalance
