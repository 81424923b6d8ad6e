// The shard map in etcd: one key, `<prefix>/map`, holding the map JSON exactly as
// router::ShardMap::to_json writes it (issue 22).
//
// Invariants:
// - The key only moves forward: a publication is a compare-and-swap on the key's mod_revision
//   as the publisher read it (0: create only), and the publisher checks that the new version
//   is greater than the stored one. Two publishers racing cannot both win, and a publisher
//   holding an old read loses instead of overwriting a newer map.
// - A value that does not parse as a map is an error naming the key, never an empty map.
#pragma once

#include <optional>
#include <string>

#include "common/config.h"
#include "proxy/cluster/etcd_client.h"
#include "router/shard_map.h"

namespace sg::cluster {

struct StoredMap {
    router::ShardMap map;
    int64_t mod_revision = 0;  // the key's, for the next compare-and-swap
    int64_t revision = 0;      // the store's when read (a watch continues from revision + 1)
};

// The map in etcd, nullopt when the key does not exist.
EtcdResult<std::optional<StoredMap>> read_map(EtcdClient& etcd, const ClusterConfig& cluster);

// Parses a stored value (the key names it in errors).
EtcdResult<router::ShardMap> parse_stored_map(const std::string& value, const std::string& key);

struct PublishResult {
    bool published = false;
    int64_t mod_revision = 0;          // the key's after a publication
    std::optional<StoredMap> current;  // on a lost race: what etcd holds now
};

// Publishes `next` if the key's mod_revision is still `expected_mod_revision` (0: the key must
// not exist). Refuses (error) a version not greater than `expected_version` (the stored map's
// version when read; 0 when absent).
EtcdResult<PublishResult> publish_map(EtcdClient& etcd, const ClusterConfig& cluster,
                                      const router::ShardMap& next, int64_t expected_mod_revision,
                                      uint64_t expected_version);

// Whether `map` fits `cfg`: bucket_bits as configured and every shard it names configured.
// The error says which and where.
EtcdResult<router::Ok> check_map_against_config(const router::ShardMap& map, const Config& cfg,
                                                const std::string& source);

}  // namespace sg::cluster
