// A proxy's start with [cluster] etcd (issue 22): the map it routes by comes from etcd.
//
// The proxy keeps routing through the embedded machinery (the map file, the shards' stamps,
// RELOAD MAP's checks); with etcd, the map file is this proxy's local copy of the etcd key and
// is written only from it. Before the proxy opens its map:
// - etcd unreachable: an error (the proxy refuses to start) rather than a map of its own;
// - key present: it must fit the config (bucket_bits, shard names); the file is replaced by it;
// - key absent: the embedded gate decides (a brand-new cluster gets version 1, a map file that
//   agrees with the shards' stamps is adopted, anything else is refused) and the result is
//   published create-only; a proxy that loses that race takes the winner's map.
#pragma once

#include "common/config.h"
#include "proxy/cluster/etcd_json.h"

namespace sg::cluster {

// On success the map file holds the etcd map; the value is its version.
EtcdResult<uint64_t> sync_map_file_from_etcd(const Config& cfg);

}  // namespace sg::cluster
