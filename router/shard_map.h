// The versioned shard map: bucket -> shard (architecture.md, "The shard map").
//
// On disk it is one JSON object, written atomically (temporary file, fsync, rename, fsync of
// the directory):
//   {"version": 7, "bucket_bits": 12, "shards": ["s0", "s1"], "map": [0, 1, 0, 1, ...]}
// `map` has exactly 2^bucket_bits entries, each an index into `shards`. A flat array (rather
// than ranges) keeps the format trivially diffable by bucket and costs ~10 KB at 4096 buckets;
// ranges() gives the compact view for SHOW BUCKETS.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "router/result.h"

namespace sg::router {

class ShardMap {
public:
    static constexpr int kMaxBucketBits = 20;

    // A contiguous run of buckets owned by one shard.
    struct Range {
        uint32_t first;
        uint32_t last;  // inclusive
        uint16_t shard;
        bool operator==(const Range&) const = default;
    };

    // The initial layout map[b] = b mod N (for N a power of two, exactly hash mod N).
    static ShardMap make_default(int bucket_bits, std::vector<std::string> shard_names,
                                 uint64_t version = 1);
    // Validates everything (bits in range, map size, shard indexes, unique names); `source`
    // names the file in error messages.
    static Expected<ShardMap> from_json(std::string_view json, const std::string& source);
    // Builds a map from parts, with the same validation as from_json.
    static Expected<ShardMap> from_parts(uint64_t version, int bucket_bits,
                                         std::vector<std::string> shard_names,
                                         std::vector<uint16_t> map, const std::string& source);
    std::string to_json() const;

    uint64_t version() const { return version_; }
    int bucket_bits() const { return bucket_bits_; }
    uint32_t bucket_count() const { return static_cast<uint32_t>(map_.size()); }
    const std::vector<std::string>& shard_names() const { return shard_names_; }
    const std::vector<uint16_t>& buckets() const { return map_; }
    uint16_t shard_of_bucket(uint32_t bucket) const { return map_[bucket]; }
    // Index of a shard by name, -1 when unknown.
    int shard_index(std::string_view name) const;
    // Whether `shard` owns at least one bucket. A shard that owns none (just added, or fully
    // drained) serves no rows; it may lack the reference tables' current rows.
    bool owns_any(uint16_t shard) const { return shard < owns_.size() && owns_[shard]; }
    // The shards that own at least one bucket, ascending (where reference-table writes go).
    const std::vector<uint16_t>& serving_shards() const { return serving_; }

    std::vector<Range> ranges() const;

    // A copy with bucket_bits + 1 where bucket b and b + 2^bits both stay on b's shard; as
    // h & mask grows by one bit, every key keeps its shard, so no data moves. Version + 1.
    ShardMap split_buckets() const;
    // A copy with buckets [first, last] assigned to `shard`, version + 1 (the rebalancer's
    // cutover step).
    Expected<ShardMap> with_assignment(uint32_t first, uint32_t last, uint16_t shard) const;

    // Non-empty: this map must not route statements that depend on bucket ownership (a shard
    // carries a newer map, or there is no map file; router/map_stamp.h). The router answers
    // them with SQLSTATE 55000 and this text. Not part of the file.
    const std::string& fence() const { return fence_; }
    void set_fence(std::string why) { fence_ = std::move(why); }

    bool operator==(const ShardMap&) const = default;

private:
    // Derives owns_ and serving_ from map_; every constructor and mutator ends with it, so
    // the router's per-statement questions cost nothing.
    void index_owners();

    uint64_t version_ = 0;
    int bucket_bits_ = 0;
    std::vector<std::string> shard_names_;
    std::vector<uint16_t> map_;
    std::vector<bool> owns_;         // per shard index: owns at least one bucket
    std::vector<uint16_t> serving_;  // indexes with owns_ set, ascending
    std::string fence_;
};

// Reads and validates a map file; errors name the file.
Expected<ShardMap> load_shard_map(const std::string& path);
// Atomic replacement of `path`: a reader sees the old map or the new one, never a mix.
Status save_shard_map(const ShardMap& map, const std::string& path);
// Loads the map file `path` for cfg. The result's shard indexes follow cfg.shards order (shards
// the file does not name own no buckets yet); a missing file, a file naming an unconfigured
// shard or disagreeing with [sharding] bucket_bits is an error naming both files. Nothing here
// creates a map: only `shardgate init` or a brand-new cluster's first start does
// (rebalance/map_gate.h), since a map invented beside the cluster's routes rows wrongly.
Expected<ShardMap> load_configured_map(const std::string& path, const Config& cfg);
// The default layout over cfg's shards, version 1 (what `shardgate init` creates).
Expected<ShardMap> default_map(const Config& cfg);

}  // namespace sg::router
