// [cluster]: the coordination service several proxies share (issue 22). With `etcd` set, the
// shard map lives in etcd under `<prefix>/map` and proxies register under
// `<prefix>/proxies/<instance>` with a lease of `lease_ttl_s`; without it, the embedded
// file-based default applies (one map file per proxy, fenced by the shards' stamps).
#pragma once

#include <string>
#include <vector>

namespace sg {

struct ClusterConfig {
    std::vector<std::string> etcd;              // "host:port" of the etcd members; empty: no etcd
    std::string prefix = "/shardgate/default";  // every key of this cluster lives under it
    int lease_ttl_s = 5;                        // a proxy's registration outlives it this long
    int etcd_timeout_ms = 2000;                 // bound on each etcd request, per member tried

    bool uses_etcd() const { return !etcd.empty(); }
    std::string map_key() const { return prefix + "/map"; }
    // Names and endpoints of the shards (proxy/cluster/shard_list.h), never credentials.
    std::string shards_key() const { return prefix + "/shards"; }
    std::string proxies_prefix() const { return prefix + "/proxies/"; }
    // The rebalancer's switch pause, under its lock's lease (proxy/cluster/pause_order.h).
    std::string pause_key() const { return prefix + "/pause"; }
};

}  // namespace sg
