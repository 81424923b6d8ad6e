#include "router/map_stamp.h"

#include <fmt/format.h>

#include <map>

#include "router/hash.h"

namespace sg::router {

std::string content_hash(const ShardMap& map) {
    std::string text = "bits=" + std::to_string(map.bucket_bits());
    for (const auto& r : map.ranges())
        text += fmt::format(";{}-{}:{}", r.first, r.last, map.shard_names()[r.shard]);
    return fmt::format("{:016x}", key_hash(text));
}

MapStamp stamp_of(const ShardMap& map) {
    return MapStamp{map.version(), content_hash(map)};
}

FenceVerdict judge_map(const ShardMap* map, const std::vector<ShardStampReading>& readings,
                       const std::string& map_source) {
    FenceVerdict v;
    std::map<uint64_t, std::pair<std::string, std::string>> by_version;  // version -> (hash, shard)
    for (const auto& r : readings) {
        if (!r.reachable) {
            v.any_unreachable = true;
            continue;
        }
        if (!r.stamp) {
            v.any_unstamped = true;
            continue;
        }
        auto [it, fresh] = by_version.try_emplace(r.stamp->version, r.stamp->hash, r.shard);
        if (!fresh && it->second.first != r.stamp->hash && v.fence.empty())
            v.fence = fmt::format(
                "shards \"{}\" and \"{}\" carry different maps under version {} (hashes {} and "
                "{}); "
                "the cluster's map history forked: find the map file that matches, or restore "
                "one, before routing",
                it->second.second, r.shard, r.stamp->version, it->second.first, r.stamp->hash);
        if (!v.newest || r.stamp->version > v.newest->version) {
            v.newest = r.stamp;
            v.newest_shard = r.shard;
        }
    }
    if (!v.fence.empty()) return v;
    if (!map) {
        if (v.newest)
            v.fence = fmt::format(
                "no shard map: {} does not exist, and shard \"{}\" carries map version {} (hash "
                "{}); copy the current map file from a proxy or the rebalancer's host to {} and "
                "run RELOAD MAP (a new map would put rows where the cluster's map does not)",
                map_source, v.newest_shard, v.newest->version, v.newest->hash, map_source);
        return v;
    }
    const MapStamp mine = stamp_of(*map);
    if (v.newest && v.newest->version > mine.version) {
        v.fence = fmt::format(
            "stale shard map: {} has version {} (hash {}) but shard \"{}\" carries version {} "
            "(hash {}); another proxy or the rebalancer moved buckets since. Copy the current map "
            "file to {} and run RELOAD MAP",
            map_source, mine.version, mine.hash, v.newest_shard, v.newest->version, v.newest->hash,
            map_source);
        return v;
    }
    if (auto it = by_version.find(mine.version);
        it != by_version.end() && it->second.first != mine.hash)
        v.fence = fmt::format(
            "shard map mismatch: {} has version {} with hash {}, but shard \"{}\" carries version "
            "{} with hash {}: the file is not the cluster's map (was it created afresh?). Copy "
            "the current map file to {} and run RELOAD MAP",
            map_source, mine.version, mine.hash, it->second.second, mine.version, it->second.first,
            map_source);
    return v;
}

}  // namespace sg::router
