// Which map a proxy or tool may route by, decided at its start against the stamps on the shards
// (issue 22, "embedded default"): a map file is used only when no shard carries a newer map or
// another map of its version; without a file, a map is created only for a brand-new cluster
// whose shards all answer and none carries a stamp. Otherwise the result is fenced: it refuses
// statements that depend on bucket ownership (router/map_stamp.h), never invents a layout.
#pragma once

#include <string>
#include <vector>

#include "rebalance/pg.h"
#include "router/map_stamp.h"
#include "router/shard_map.h"

namespace sg::rebalance {

enum class GateMode {
    ReadOnly,   // route, check: never writes a file or a stamp
    Bootstrap,  // serve, rebalance: a brand-new cluster gets version 1; unstamped shards are
                // stamped with the file's map (adoption of a cluster that predates stamps)
    Init,       // shardgate init: Bootstrap, but a refusal is an error, not a fenced map
};

struct GatedMap {
    router::ShardMap map;  // fenced (map.fence() non-empty) when it must not route
    bool from_file = false;
    bool created = false;  // version 1 was created now (and the shards stamped)
    router::FenceVerdict verdict;
    std::vector<router::ShardStampReading> readings;
};

// Errors are problems of the file itself (unreadable, invalid, unconfigured shard), or, in
// Init mode, every refusal.
Expected<GatedMap> open_cluster_map(const Config& cfg, GateMode mode);

}  // namespace sg::rebalance
