// Version fencing of the shard map (issue 22): every shard carries a stamp naming the map
// version that last changed its ownership, with a hash of that map's content. A map older
// than a shard's stamp, or one with the same version but other content, must never route.
//
// This file is pure (no I/O): the content hash, and the judgement of a map against the stamps
// read from the shards. rebalance/stamps.* reads and writes the stamps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "router/shard_map.h"

namespace sg::router {

// What a shard says about the map: version and content hash of the last map that changed
// which buckets it owns (or that was adopted by `shardgate init` / a cluster's first start).
struct MapStamp {
    uint64_t version = 0;
    std::string hash;  // content_hash() of that map
    bool operator==(const MapStamp&) const = default;
};

// 16 hex digits of xxh3-64 over the map's ownership: bucket_bits and, per run of buckets, the
// owner's *name*. Independent of the version and of the order of shard names, so the same
// ownership hashes alike in every proxy, whatever its config order; shards that own no
// buckets do not change it. Two maps with one version and different hashes are different maps.
std::string content_hash(const ShardMap& map);
MapStamp stamp_of(const ShardMap& map);

// One shard as read at some moment.
struct ShardStampReading {
    std::string shard;
    bool reachable = false;
    std::optional<MapStamp> stamp;  // nullopt: the shard carries no stamp yet
    std::string error;              // when unreachable
    // A rebalancer's switch is prepared on this shard and not yet committed or rolled back
    // (PREPARE TRANSACTION 'sg_rb_...'): its rows and its stamp are in doubt until the run, or
    // the next one, settles it.
    bool switch_prepared = false;
};

struct FenceVerdict {
    // Non-empty: the map must not route sharded statements; the text says why and what to do
    // (it is the message clients get, SQLSTATE 55000).
    std::string fence;
    // The newest stamp seen and the shard carrying it (nullopt when no shard has a stamp).
    std::optional<MapStamp> newest;
    std::string newest_shard;
    bool any_unstamped = false;
    bool any_unreachable = false;
};

// Judges `map` (nullptr: there is no map file) against the readings. Fenced when a shard's
// stamp is newer than the map, when a shard has the map's version with another hash, when two
// shards disagree about one version, or when there is no map but some shard carries a stamp.
// Unstamped and unreachable shards do not fence: they cannot contradict the map.
// `map_source` names the map (its file) in the message.
FenceVerdict judge_map(const ShardMap* map, const std::vector<ShardStampReading>& readings,
                       const std::string& map_source);

}  // namespace sg::router
